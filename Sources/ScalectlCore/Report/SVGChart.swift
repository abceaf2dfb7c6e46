import Foundation

/// Colours of the Okabe–Ito palette (safe for the common colour-vision
/// deficiencies), as CSS classes so that light and dark mode can differ.
public enum ChartColor: String, Sendable, CaseIterable {
    case blue, orange, sky, green, yellow, vermillion, purple, gray

    var cssClass: String { "c-" + rawValue }
}

/// One thing drawn in an ``XYChart``.
public enum ChartMark: Sendable {
    /// A polyline; a NaN y breaks it.
    case line(x: [Double], y: [Double], color: ChartColor, dashed: Bool = false, role: String = "series")
    /// A shaded area between two curves over the same x.
    case band(x: [Double], lower: [Double], upper: [Double], color: ChartColor, role: String = "band")
    /// Histogram bars: `heights[i]` over `edges[i]...edges[i+1]`.
    case bars(edges: [Double], heights: [Double], color: ChartColor)
    /// A vertical rule at `x` (a clip limit), labelled at its top.
    case vline(x: Double, color: ChartColor, dashed: Bool, role: String, label: String?)
    /// A horizontal rule at `y` (a target).
    case hline(y: Double, color: ChartColor, dashed: Bool, role: String, label: String?)
    /// A shaded x interval over the whole height (a period when an alert fired).
    case xspan(from: Double, to: Double, color: ChartColor, role: String, label: String?)
    /// A shaded y interval over the whole width (a tolerance band).
    case yspan(from: Double, to: Double, color: ChartColor, role: String)
    /// Points with vertical error bars.
    case errorBars(x: [Double], y: [Double], lo: [Double], hi: [Double], color: ChartColor)
    /// A line of text in the plot's top left corner.
    case note(String)

    /// The x values the axis must show.
    var xs: [Double] {
        switch self {
        case let .line(x, y, _, _, _): return zip(x, y).filter { $0.1.isFinite }.map(\.0)
        case let .band(x, _, _, _, _): return x
        case let .bars(edges, _, _): return edges
        case let .vline(x, _, _, _, _): return [x]
        case let .xspan(a, b, _, _, _): return [a, b]
        case let .errorBars(x, _, _, _, _): return x
        case .hline, .yspan, .note: return []
        }
    }

    /// The y values the axis must show.
    var ys: [Double] {
        switch self {
        case let .line(_, y, _, _, _): return y
        case let .band(_, lo, hi, _, _): return lo + hi
        case let .bars(_, h, _): return h + [0]
        case let .hline(y, _, _, _, _): return [y]
        case let .yspan(a, b, _, _): return [a, b]
        case let .errorBars(_, y, lo, hi, _): return y + lo + hi
        case .vline, .xspan, .note: return []
        }
    }
}

/// A legend entry: a swatch of `color` drawn as a line, a box or a dashed rule.
public struct LegendEntry: Sendable {
    public enum Swatch: Sendable { case line, box, dashed, point }
    public var label: String
    public var color: ChartColor
    public var swatch: Swatch

    public init(_ label: String, _ color: ChartColor, _ swatch: Swatch = .line) {
        self.label = label
        self.color = color
        self.swatch = swatch
    }
}

/// A chart with numeric x and y axes, drawn as SVG with no script.
///
/// The axes span "nice" tick ranges around every mark. The `<svg>` carries
/// its scales as `data-x-domain`/`data-x-range` (and y) so that tests, or
/// anyone, can read a mark's pixel coordinates back as data values.
public struct XYChart: Sendable {
    /// The element id, also the file name stem for `--svg`.
    public var id: String
    /// The title drawn above the plot and given as `<title>`.
    public var title: String
    /// What the chart shows, for screen readers (`<desc>`).
    public var summary: String
    /// Axis labels, with their units.
    public var xLabel: String
    public var yLabel: String
    /// What is drawn, in order (later marks on top).
    public var marks: [ChartMark] = []
    public var legend: [LegendEntry] = []
    /// Size in CSS pixels (the SVG scales down to fit narrower pages).
    public var width = 760.0
    public var height = 320.0
    /// Integer x positions labelled with these names instead of numbers (channels).
    public var categories: [String]?
    /// About how many ticks each axis gets (see ``NiceTicks``).
    public var xTickCount = 8
    public var yTickCount = 6

    static let margin = (left: 70.0, right: 20.0, top: 52.0, bottom: 50.0)

    public init(id: String, title: String, summary: String, xLabel: String, yLabel: String) {
        self.id = id
        self.title = title
        self.summary = summary
        self.xLabel = xLabel
        self.yLabel = yLabel
    }

    /// The ticks and pixel scales of both axes.
    public func layout() -> (x: LinearScale, y: LinearScale, xTicks: NiceTicks, yTicks: NiceTicks) {
        let xs = marks.flatMap(\.xs).filter(\.isFinite)
        let ys = marks.flatMap(\.ys).filter(\.isFinite)
        var xTicks = NiceTicks(min: xs.min() ?? 0, max: xs.max() ?? 1, count: xTickCount)
        if let categories {
            xTicks = NiceTicks(min: 0, max: Double(Swift.max(categories.count - 1, 1)), count: 2)
            xTicks.lo = -0.5
            xTicks.hi = Double(categories.count) - 0.5
            xTicks.step = 1
        }
        let yTicks = NiceTicks(min: ys.min() ?? 0, max: ys.max() ?? 1, count: yTickCount)
        let m = Self.margin
        let x = LinearScale(domain: (xTicks.lo, xTicks.hi), range: (m.left, width - m.right))
        let y = LinearScale(domain: (yTicks.lo, yTicks.hi), range: (height - m.bottom, top))
        return (x, y, xTicks, yTicks)
    }

    /// Where each legend entry goes: its x and its row, wrapping at the plot's width.
    func legendPlacement() -> [(entry: LegendEntry, x: Double, row: Int)] {
        let m = Self.margin
        var out: [(entry: LegendEntry, x: Double, row: Int)] = []
        var px = m.left, row = 0
        for e in legend {
            let w = 23 + Double(e.label.count) * 6.6
            if px > m.left && px + w > width - m.right {
                row += 1
                px = m.left
            }
            out.append((e, px, row))
            px += w + 16
        }
        return out
    }

    /// The top of the plot area, below the title and the legend rows.
    var top: Double {
        let rows = (legendPlacement().last?.row ?? 0) + 1
        return Self.margin.top + 16 * Double(rows - 1)
    }

    /// The chart as an `<svg>` element; `standalone` adds the XML namespace
    /// and the stylesheet, for a `.svg` file of its own.
    public func svg(standalone: Bool = false) -> String {
        let (x, y, xTicks, yTicks) = layout()
        let m = Self.margin
        let plot = (left: m.left, right: width - m.right, top: top, bottom: height - m.bottom)
        var s = SVG.open(id: id, width: width, height: height, standalone: standalone, attributes: [
            ("data-chart", id),
            ("data-x-domain", "\(SVG.exact(x.domain.lo)) \(SVG.exact(x.domain.hi))"),
            ("data-x-range", "\(SVG.num(x.range.from)) \(SVG.num(x.range.to))"),
            ("data-y-domain", "\(SVG.exact(y.domain.lo)) \(SVG.exact(y.domain.hi))"),
            ("data-y-range", "\(SVG.num(y.range.from)) \(SVG.num(y.range.to))"),
        ], title: title, summary: summary)
        s += "<text class=\"ctitle\" x=\"\(SVG.num(plot.left))\" y=\"18\">\(HTML.escape(title))</text>\n"
        s += legendSVG(y: 36)
        // Grid and ticks.
        s += "<g class=\"grid\">"
        for v in yTicks.values {
            let py = y(v)
            s += "<line x1=\"\(SVG.num(plot.left))\" x2=\"\(SVG.num(plot.right))\" y1=\"\(SVG.num(py))\" y2=\"\(SVG.num(py))\"/>"
        }
        let xTickValues: [(Double, String)] = categories.map { names in
            names.enumerated().map { (Double($0.offset), $0.element) }
        } ?? xTicks.values.map { ($0, xTicks.label($0)) }
        for (v, _) in xTickValues {
            let px = x(v)
            s += "<line x1=\"\(SVG.num(px))\" x2=\"\(SVG.num(px))\" y1=\"\(SVG.num(plot.top))\" y2=\"\(SVG.num(plot.bottom))\"/>"
        }
        s += "</g>\n"
        s += "<clipPath id=\"\(id)-clip\"><rect x=\"\(SVG.num(plot.left))\" y=\"\(SVG.num(plot.top))\" width=\"\(SVG.num(plot.right - plot.left))\" height=\"\(SVG.num(plot.bottom - plot.top))\"/></clipPath>\n"
        s += "<g clip-path=\"url(#\(id)-clip)\">\n"
        var labels = ""
        for mark in marks { s += render(mark, x: x, y: y, plot: plot, labels: &labels) }
        s += "</g>\n" + labels
        // Axes, tick labels, axis labels.
        s += "<g class=\"axis\"><line x1=\"\(SVG.num(plot.left))\" x2=\"\(SVG.num(plot.right))\" y1=\"\(SVG.num(plot.bottom))\" y2=\"\(SVG.num(plot.bottom))\"/>"
        s += "<line x1=\"\(SVG.num(plot.left))\" x2=\"\(SVG.num(plot.left))\" y1=\"\(SVG.num(plot.top))\" y2=\"\(SVG.num(plot.bottom))\"/></g>\n"
        let thin = xTickValues.count > 24 ? Int((Double(xTickValues.count) / 24).rounded(.up)) : 1
        for (i, (v, text)) in xTickValues.enumerated() where i % thin == 0 {
            s += "<text class=\"tick\" text-anchor=\"middle\" x=\"\(SVG.num(x(v)))\" y=\"\(SVG.num(plot.bottom + 16))\">\(HTML.escape(text))</text>"
        }
        for v in yTicks.values {
            s += "<text class=\"tick\" text-anchor=\"end\" x=\"\(SVG.num(plot.left - 6))\" y=\"\(SVG.num(y(v) + 4))\">\(HTML.escape(yTicks.label(v)))</text>"
        }
        s += "\n<text class=\"alabel\" text-anchor=\"middle\" x=\"\(SVG.num((plot.left + plot.right) / 2))\" y=\"\(SVG.num(height - 10))\">\(HTML.escape(xLabel))</text>\n"
        let cy = (plot.top + plot.bottom) / 2
        s += "<text class=\"alabel\" text-anchor=\"middle\" transform=\"translate(16 \(SVG.num(cy))) rotate(-90)\">\(HTML.escape(yLabel))</text>\n"
        return s + "</svg>\n"
    }

    func legendSVG(y top: Double) -> String {
        guard !legend.isEmpty else { return "" }
        var s = "<g class=\"legend\">"
        for (e, px, row) in legendPlacement() {
            let y = top + 16 * Double(row)
            let c = e.color.cssClass
            switch e.swatch {
            case .line: s += "<line class=\"line \(c)\" x1=\"\(SVG.num(px))\" x2=\"\(SVG.num(px + 18))\" y1=\"\(SVG.num(y - 4))\" y2=\"\(SVG.num(y - 4))\"/>"
            case .dashed: s += "<line class=\"rule dashed \(c)\" x1=\"\(SVG.num(px))\" x2=\"\(SVG.num(px + 18))\" y1=\"\(SVG.num(y - 4))\" y2=\"\(SVG.num(y - 4))\"/>"
            case .box: s += "<rect class=\"swatch \(c)\" x=\"\(SVG.num(px))\" y=\"\(SVG.num(y - 10))\" width=\"18\" height=\"10\"/>"
            case .point: s += "<circle class=\"dot \(c)\" cx=\"\(SVG.num(px + 9))\" cy=\"\(SVG.num(y - 4))\" r=\"3.5\"/>"
            }
            s += "<text x=\"\(SVG.num(px + 23))\" y=\"\(SVG.num(y))\">\(HTML.escape(e.label))</text>"
        }
        return s + "</g>\n"
    }

    func render(_ mark: ChartMark, x: LinearScale, y: LinearScale,
                plot: (left: Double, right: Double, top: Double, bottom: Double), labels: inout String) -> String {
        switch mark {
        case let .line(xs, ys, color, dashed, role):
            var out = "", run: [String] = []
            func flush() {
                if run.count == 1 { out += "<circle class=\"dot \(color.cssClass)\" data-role=\"\(role)\" r=\"2.5\" cx=\"\(run[0].split(separator: ",")[0])\" cy=\"\(run[0].split(separator: ",")[1])\"/>\n" }
                if run.count > 1 { out += "<polyline class=\"line \(color.cssClass)\(dashed ? " dashed" : "")\" data-role=\"\(role)\" points=\"\(run.joined(separator: " "))\"/>\n" }
                run = []
            }
            for (a, b) in zip(xs, ys) {
                if a.isFinite && b.isFinite { run.append("\(SVG.num(x(a))),\(SVG.num(y(b)))") } else { flush() }
            }
            flush()
            return out
        case let .band(xs, lo, hi, color, role):
            let upper = zip(xs, hi).map { "\(SVG.num(x($0))),\(SVG.num(y($1)))" }
            let lower = zip(xs, lo).reversed().map { "\(SVG.num(x($0))),\(SVG.num(y($1)))" }
            guard !upper.isEmpty else { return "" }
            return "<polygon class=\"band \(color.cssClass)\" data-role=\"\(role)\" points=\"\((upper + lower).joined(separator: " "))\"/>\n"
        case let .bars(edges, heights, color):
            var out = "<g class=\"bars \(color.cssClass)\" data-role=\"bars\">"
            for (i, h) in heights.enumerated() where i + 1 < edges.count && h.isFinite {
                let x0 = x(edges[i]), x1 = x(edges[i + 1])
                let top = y(Swift.max(h, 0)), base = y(0)
                out += "<rect x=\"\(SVG.num(x0))\" y=\"\(SVG.num(top))\" width=\"\(SVG.num(Swift.max(x1 - x0 - 0.5, 0.5)))\" height=\"\(SVG.num(Swift.max(base - top, 0)))\"/>"
            }
            return out + "</g>\n"
        case let .vline(v, color, dashed, role, label):
            let px = x(v)
            if let label {
                labels += "<text class=\"rlabel\" text-anchor=\"middle\" x=\"\(SVG.num(px))\" y=\"\(SVG.num(plot.top - 3))\">\(HTML.escape(label))</text>\n"
            }
            return "<line class=\"rule \(color.cssClass)\(dashed ? " dashed" : "")\" data-role=\"\(role)\" data-value=\"\(SVG.exact(v))\" x1=\"\(SVG.num(px))\" x2=\"\(SVG.num(px))\" y1=\"\(SVG.num(plot.top))\" y2=\"\(SVG.num(plot.bottom))\"/>\n"
        case let .hline(v, color, dashed, role, label):
            let py = y(v)
            if let label {
                labels += "<text class=\"rlabel\" text-anchor=\"end\" x=\"\(SVG.num(plot.right - 4))\" y=\"\(SVG.num(py - 4))\">\(HTML.escape(label))</text>\n"
            }
            return "<line class=\"rule \(color.cssClass)\(dashed ? " dashed" : "")\" data-role=\"\(role)\" data-value=\"\(SVG.exact(v))\" x1=\"\(SVG.num(plot.left))\" x2=\"\(SVG.num(plot.right))\" y1=\"\(SVG.num(py))\" y2=\"\(SVG.num(py))\"/>\n"
        case let .xspan(a, b, color, role, label):
            let x0 = x(a), x1 = x(b)
            var out = "<rect class=\"span \(color.cssClass)\" data-role=\"\(role)\" data-from=\"\(SVG.exact(a))\" data-to=\"\(SVG.exact(b))\" x=\"\(SVG.num(x0))\" y=\"\(SVG.num(plot.top))\" width=\"\(SVG.num(Swift.max(x1 - x0, 1.5)))\" height=\"\(SVG.num(plot.bottom - plot.top))\">"
            if let label { out += "<title>\(HTML.escape(label))</title>" }
            return out + "</rect>\n"
        case let .yspan(a, b, color, role):
            let y0 = y(Swift.max(a, b)), y1 = y(Swift.min(a, b))
            return "<rect class=\"band \(color.cssClass)\" data-role=\"\(role)\" data-from=\"\(SVG.exact(Swift.min(a, b)))\" data-to=\"\(SVG.exact(Swift.max(a, b)))\" x=\"\(SVG.num(plot.left))\" y=\"\(SVG.num(y0))\" width=\"\(SVG.num(plot.right - plot.left))\" height=\"\(SVG.num(Swift.max(y1 - y0, 0.5)))\"/>\n"
        case let .errorBars(xs, ys, lo, hi, color):
            var out = "<g class=\"errorbars \(color.cssClass)\" data-role=\"errorbars\">"
            for i in xs.indices where i < ys.count && ys[i].isFinite {
                let px = x(xs[i])
                if i < lo.count, i < hi.count, lo[i].isFinite, hi[i].isFinite {
                    let a = y(lo[i]), b = y(hi[i])
                    out += "<line class=\"rule\" x1=\"\(SVG.num(px))\" x2=\"\(SVG.num(px))\" y1=\"\(SVG.num(a))\" y2=\"\(SVG.num(b))\"/>"
                    out += "<line class=\"rule\" x1=\"\(SVG.num(px - 4))\" x2=\"\(SVG.num(px + 4))\" y1=\"\(SVG.num(a))\" y2=\"\(SVG.num(a))\"/>"
                    out += "<line class=\"rule\" x1=\"\(SVG.num(px - 4))\" x2=\"\(SVG.num(px + 4))\" y1=\"\(SVG.num(b))\" y2=\"\(SVG.num(b))\"/>"
                }
                out += "<circle class=\"dot\" cx=\"\(SVG.num(px))\" cy=\"\(SVG.num(y(ys[i])))\" r=\"3.5\"/>"
            }
            return out + "</g>\n"
        case let .note(text):
            labels += "<text class=\"note\" x=\"\(SVG.num(plot.left + 8))\" y=\"\(SVG.num(plot.top + 16 + Double(noteIndex(text)) * 16))\">\(HTML.escape(text))</text>\n"
            return ""
        }
    }

    func noteIndex(_ text: String) -> Int {
        var i = 0
        for m in marks {
            if case let .note(t) = m {
                if t == text { return i }
                i += 1
            }
        }
        return 0
    }
}

/// SVG text helpers shared by the charts.
public enum SVG {
    /// A pixel coordinate: at most 3 decimals, no exponent.
    public static func num(_ v: Double) -> String {
        guard v.isFinite else { return "0" }
        if v == v.rounded() && abs(v) < 1e15 { return String(Int(v)) }
        var s = String(format: "%.3f", v)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s == "-0" ? "0" : s
    }

    /// A data value, exactly (shortest round-trip spelling), for data-* attributes.
    public static func exact(_ v: Double) -> String {
        guard v.isFinite else { return v.isNaN ? "NaN" : (v < 0 ? "-Infinity" : "Infinity") }
        return "\(v)"
    }

    /// The opening `<svg>` tag with its `<title>` and `<desc>`.
    static func open(id: String, width: Double, height: Double, standalone: Bool,
                     attributes: [(String, String)], title: String, summary: String) -> String {
        var s = "<svg"
        if standalone { s += " xmlns=\"http://www.w3.org/2000/svg\"" }
        s += " class=\"chart\" id=\"\(id)\" viewBox=\"0 0 \(SVG.num(width)) \(SVG.num(height))\" width=\"\(SVG.num(width))\" height=\"\(SVG.num(height))\""
        s += " role=\"img\" aria-labelledby=\"\(id)-title \(id)-desc\""
        for (k, v) in attributes { s += " \(k)=\"\(HTML.escape(v))\"" }
        s += ">\n<title id=\"\(id)-title\">\(HTML.escape(title))</title>\n<desc id=\"\(id)-desc\">\(HTML.escape(summary))</desc>\n"
        if standalone { s += "<style>\n\(ChartStyle.css)</style>\n" }
        s += "<rect class=\"bg\" x=\"0\" y=\"0\" width=\"\(SVG.num(width))\" height=\"\(SVG.num(height))\"/>\n"
        return s
    }
}

/// HTML text escaping.
public enum HTML {
    /// `text` safe inside an element or a double-quoted attribute.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }
}
