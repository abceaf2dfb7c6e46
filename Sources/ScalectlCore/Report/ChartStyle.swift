/// The charts' stylesheet: Okabe–Ito colours, light and dark
/// (`prefers-color-scheme`). The page includes it once; a standalone `.svg`
/// file carries its own copy.
public enum ChartStyle {
    /// The stylesheet text (CSS custom properties, then rules scoped to `svg.chart`).
    public static let css = """
        :root, svg.chart {
          --fg: #1b1b1b; --muted: #5c5c5c; --bg: #ffffff; --grid: #e4e4e4; --panel: #f6f6f6;
          --blue: #0072B2; --orange: #E69F00; --sky: #56B4E9; --green: #009E73;
          --yellow: #F0E442; --vermillion: #D55E00; --purple: #CC79A7; --gray: #8a8a8a;
        }
        @media (prefers-color-scheme: dark) {
          :root, svg.chart {
            --fg: #e9e9e9; --muted: #a8a8a8; --bg: #15181c; --grid: #30363d; --panel: #1e2227;
            --blue: #3d9be0; --gray: #9a9a9a;
          }
        }
        svg.chart { max-width: 100%; height: auto; }
        svg.chart text { fill: var(--fg); font: 12px system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
        svg.chart .bg { fill: var(--bg); }
        svg.chart .ctitle { font-weight: 600; font-size: 14px; }
        svg.chart .tick, svg.chart .rlabel, svg.chart .note { fill: var(--muted); font-size: 11px; }
        svg.chart .note { font-size: 12px; fill: var(--fg); }
        svg.chart .alabel { font-size: 12px; }
        svg.chart .note, svg.chart .rlabel { paint-order: stroke; stroke: var(--bg); stroke-width: 3px; stroke-linejoin: round; }
        svg.chart .grid line { stroke: var(--grid); stroke-width: 1; }
        svg.chart .axis line { stroke: var(--muted); stroke-width: 1; }
        svg.chart .line { fill: none; stroke-width: 1.8; }
        svg.chart .rule { stroke-width: 1.5; fill: none; }
        svg.chart .dashed { stroke-dasharray: 6 4; }
        svg.chart .band { stroke: none; fill-opacity: 0.22; }
        svg.chart .span { stroke: none; fill-opacity: 0.16; }
        svg.chart .bars rect, svg.chart .swatch { fill-opacity: 0.8; stroke: none; }
        svg.chart .cell { stroke: var(--bg); stroke-width: 1; }
        svg.chart text.ink-dark { fill: #111111; }
        svg.chart text.ink-light { fill: #ffffff; }
        svg.chart .c-blue { stroke: var(--blue); fill: var(--blue); }
        svg.chart .c-orange { stroke: var(--orange); fill: var(--orange); }
        svg.chart .c-sky { stroke: var(--sky); fill: var(--sky); }
        svg.chart .c-green { stroke: var(--green); fill: var(--green); }
        svg.chart .c-yellow { stroke: var(--yellow); fill: var(--yellow); }
        svg.chart .c-vermillion { stroke: var(--vermillion); fill: var(--vermillion); }
        svg.chart .c-purple { stroke: var(--purple); fill: var(--purple); }
        svg.chart .c-gray { stroke: var(--gray); fill: var(--gray); }
        svg.chart .line.c-blue, svg.chart .line.c-orange, svg.chart .line.c-sky, svg.chart .line.c-green,
        svg.chart .line.c-vermillion, svg.chart .line.c-purple, svg.chart .line.c-gray, svg.chart .rule { fill: none; }

        """
}
