import Foundation

/// A C×C matrix of values in [-1, 1] (channel correlations) as coloured
/// cells, on a diverging blue–grey–vermillion scale from the Okabe–Ito
/// palette, with a colour key.
public struct HeatmapChart: Sendable {
    /// The element id, also the file name stem for `--svg`.
    public var id: String
    public var title: String
    /// What the chart shows, for screen readers (`<desc>`).
    public var summary: String
    /// One label per row and column.
    public var labels: [String]
    /// The matrix, row-major; values outside [-1, 1] take the end colours.
    public var values: [[Double]]
    public var axisLabel = "channel"

    public init(id: String, title: String, summary: String, labels: [String], values: [[Double]]) {
        self.id = id
        self.title = title
        self.summary = summary
        self.labels = labels
        self.values = values
    }

    /// The fill of value `v` in [-1, 1]: blue (#0072B2) at -1, light grey at
    /// 0, vermillion (#D55E00) at +1; NaN is mid grey.
    public static func color(_ v: Double) -> (r: Int, g: Int, b: Int) {
        guard v.isFinite else { return (150, 150, 150) }
        let t = Swift.min(Swift.max(v, -1), 1)
        let mid = (r: 236.0, g: 236.0, b: 236.0)
        let end = t < 0 ? (r: 0.0, g: 114.0, b: 178.0) : (r: 213.0, g: 94.0, b: 0.0)
        let a = abs(t)
        return (Int((mid.r + (end.r - mid.r) * a).rounded()), Int((mid.g + (end.g - mid.g) * a).rounded()),
                Int((mid.b + (end.b - mid.b) * a).rounded()))
    }

    /// The heatmap as an `<svg>` element; `standalone` adds the XML namespace
    /// and the stylesheet, for a `.svg` file of its own.
    public func svg(standalone: Bool = false) -> String {
        let n = values.count
        let cell = n <= 8 ? 44.0 : n <= 16 ? 30.0 : Swift.max(8, 480 / Double(Swift.max(n, 1)))
        let left = 70.0, top = 40.0
        let side = cell * Double(n)
        let width = left + side + 110, height = top + side + 50
        var s = SVG.open(id: id, width: width, height: height, standalone: standalone,
                         attributes: [("data-chart", id), ("data-cells", String(n))], title: title, summary: summary)
        s += "<text class=\"ctitle\" x=\"\(SVG.num(left))\" y=\"18\">\(HTML.escape(title))</text>\n"
        let showValues = n <= 16
        for (i, row) in values.enumerated() {
            for (j, v) in row.enumerated() {
                let c = Self.color(v)
                let x = left + Double(j) * cell, y = top + Double(i) * cell
                s += "<rect class=\"cell\" data-row=\"\(i)\" data-col=\"\(j)\" data-value=\"\(SVG.exact(v))\" x=\"\(SVG.num(x))\" y=\"\(SVG.num(y))\" width=\"\(SVG.num(cell))\" height=\"\(SVG.num(cell))\" fill=\"rgb(\(c.r),\(c.g),\(c.b))\"><title>\(HTML.escape("\(label(i)) × \(label(j)): \(Fmt.sig(v, 3))"))</title></rect>"
                if showValues {
                    let luminance = 0.2126 * Double(c.r) + 0.7152 * Double(c.g) + 0.0722 * Double(c.b)
                    s += "<text class=\"\(luminance > 140 ? "ink-dark" : "ink-light")\" text-anchor=\"middle\" x=\"\(SVG.num(x + cell / 2))\" y=\"\(SVG.num(y + cell / 2 + 4))\" style=\"font-size:\(cell >= 40 ? 11 : 9)px\">\(HTML.escape(Self.cellText(v)))</text>"
                }
            }
            s += "\n"
        }
        let thin = n > 24 ? Int((Double(n) / 24).rounded(.up)) : 1
        for i in 0..<n where i % thin == 0 {
            s += "<text class=\"tick\" text-anchor=\"end\" x=\"\(SVG.num(left - 6))\" y=\"\(SVG.num(top + (Double(i) + 0.5) * cell + 4))\">\(HTML.escape(label(i)))</text>"
            s += "<text class=\"tick\" text-anchor=\"middle\" x=\"\(SVG.num(left + (Double(i) + 0.5) * cell))\" y=\"\(SVG.num(top + side + 16))\">\(HTML.escape(label(i)))</text>"
        }
        s += "\n<text class=\"alabel\" text-anchor=\"middle\" x=\"\(SVG.num(left + side / 2))\" y=\"\(SVG.num(height - 10))\">\(HTML.escape(axisLabel))</text>\n"
        s += "<text class=\"alabel\" text-anchor=\"middle\" transform=\"translate(16 \(SVG.num(top + side / 2))) rotate(-90)\">\(HTML.escape(axisLabel))</text>\n"
        // Colour key: -1 … 1 in 20 steps.
        let keyX = left + side + 30, keyH = Swift.max(side, 120), steps = 20
        for k in 0..<steps {
            let v = 1 - 2 * (Double(k) + 0.5) / Double(steps)
            let c = Self.color(v)
            s += "<rect x=\"\(SVG.num(keyX))\" y=\"\(SVG.num(top + Double(k) * keyH / Double(steps)))\" width=\"14\" height=\"\(SVG.num(keyH / Double(steps) + 0.5))\" fill=\"rgb(\(c.r),\(c.g),\(c.b))\"/>"
        }
        for (v, text) in [(1.0, "+1"), (0.0, "0"), (-1.0, "−1")] {
            s += "<text class=\"tick\" x=\"\(SVG.num(keyX + 20))\" y=\"\(SVG.num(top + (1 - v) / 2 * keyH + 4))\">\(text)</text>"
        }
        s += "\n<text class=\"tick\" x=\"\(SVG.num(keyX - 4))\" y=\"\(SVG.num(top - 8))\">correlation</text>\n"
        return s + "</svg>\n"
    }

    func label(_ i: Int) -> String { i < labels.count ? labels[i] : String(i) }

    /// Two decimals, without the "-0.00" of a tiny negative value.
    static func cellText(_ v: Double) -> String {
        guard v.isFinite else { return "nan" }
        return String(format: "%.2f", abs(v) < 0.005 ? 0 : v)
    }
}

/// A table of a chart's numbers: the fallback for readers who cannot see it.
public struct DataTable: Sendable {
    public var caption: String
    public var headers: [String]
    public var rows: [[String]]

    public init(caption: String, headers: [String], rows: [[String]]) {
        self.caption = caption
        self.headers = headers
        self.rows = rows
    }

    /// The table as HTML.
    public var html: String {
        var s = "<table><caption>\(HTML.escape(caption))</caption><thead><tr>"
        s += headers.map { "<th scope=\"col\">\(HTML.escape($0))</th>" }.joined()
        s += "</tr></thead><tbody>\n"
        for r in rows { s += "<tr>" + r.map { "<td>\(HTML.escape($0))</td>" }.joined() + "</tr>\n" }
        return s + "</tbody></table>"
    }
}
