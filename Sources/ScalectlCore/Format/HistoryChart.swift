import Foundation

/// One batch of `GET …/history`.
public struct HistoryPoint: Sendable {
    public var seq: Int
    public var step: Int?
    public var time: Date?
    public var normalizedStd: Double?
    public var clampFraction: Double?
    public var nonfinite: Int

    public init(seq: Int, step: Int?, time: Date?, normalizedStd: Double?, clampFraction: Double?, nonfinite: Int = 0) {
        self.seq = seq
        self.step = step
        self.time = time
        self.normalizedStd = normalizedStd
        self.clampFraction = clampFraction
        self.nonfinite = nonfinite
    }

    public init(_ e: JSONValue) {
        seq = e["seq"]?.int ?? 0
        step = e["step"]?.int
        time = e["time"]?.string.flatMap(Fmt.parseTimestamp)
        normalizedStd = e["normalized_std"]?.double
        clampFraction = e["clamp_fraction"]?.double
        nonfinite = e["nonfinite"]?.int ?? 0
    }
}

/// A time an alert was firing, from `GET /v1/alerts?all=true`.
public struct FiringPeriod: Sendable {
    public var kind: String
    public var start: Date
    public var end: Date?

    public init(kind: String, start: Date, end: Date?) {
        self.kind = kind
        self.start = start
        self.end = end
    }

    func covers(_ t: Date) -> Bool { t >= start && (end.map { t <= $0 } ?? true) }

    /// The letter marking this kind in the chart's alert row.
    static func letter(_ kind: String) -> Character {
        switch kind {
        case "variance_drift": return "V"
        case "mean_drift": return "M"
        case "clamp_out_of_range": return "C"
        case "nonfinite": return "N"
        default: return "A"
        }
    }
}

/// The terminal chart of `history STREAM`: normalized std against its
/// tolerance band, clamp share against its limit, and a row marking when
/// alerts fired, all over the same step axis and within `width` columns.
public struct HistoryChart {
    public var points: [HistoryPoint]
    public var periods: [FiringPeriod] = []
    public var targetStd: Double = 1
    public var driftTolerance: Double = 0.05
    public var clampLimit: Double?
    public var width = 80
    public var stdRows = 10
    public var clampRows = 5

    public init(points: [HistoryPoint]) { self.points = points }

    static let labelWidth = 9  // "  1.0500 " then the axis

    public func render(style: Style = Style(enabled: false)) -> [String] {
        guard !points.isEmpty else { return ["no batches yet"] }
        let plotWidth = max(10, width - Self.labelWidth - 1)
        let columns = columnAssignment(plotWidth: plotWidth)
        // Which columns fall into a firing period, and of what kinds.
        var firing = [Set<Character>](repeating: [], count: plotWidth)
        for (i, p) in points.enumerated() {
            guard let t = p.time else { continue }
            for period in periods where period.covers(t) { firing[columns[i]].insert(FiringPeriod.letter(period.kind)) }
        }
        var lines: [String] = []
        let usesSteps = points.allSatisfy { $0.step != nil }

        // Normalized std panel.
        let stds = points.compactMap(\.normalizedStd)
        let lower = targetStd * (1 - driftTolerance), upper = targetStd * (1 + driftTolerance)
        if stds.isEmpty {
            lines.append("normalized std: none yet (no reference normalization)")
        } else {
            lines.append(style.bold("normalized std") + " (target \(Fmt.sig(targetStd, 4)), band ±\(Fmt.percent(driftTolerance)))")
            var lo = min(stds.min()!, lower), hi = max(stds.max()!, upper)
            let pad = (hi - lo) * 0.05
            lo -= pad
            hi += pad
            let rows = stdRows
            func row(_ v: Double) -> Int { // 0 is the top row
                Int(((hi - v) / (hi - lo) * Double(rows - 1)).rounded()).clamped(0, rows - 1)
            }
            var grid = [[Character]](repeating: [Character](repeating: " ", count: plotWidth), count: rows)
            var labels = [String?](repeating: nil, count: rows)
            for (r, ch) in [(row(upper), Character(".")), (row(lower), "."), (row(targetStd), "-")] {
                for c in 0..<plotWidth { grid[r][c] = ch }
            }
            labels[row(upper)] = Fmt.sig(upper, 4)
            labels[row(lower)] = Fmt.sig(lower, 4)
            labels[row(targetStd)] = Fmt.sig(targetStd, 4)
            labels[0] = labels[0] ?? Fmt.sig(hi, 4)
            labels[rows - 1] = labels[rows - 1] ?? Fmt.sig(lo, 4)
            // Each column spans the range of the batches it holds.
            let spans = aggregate(points.map(\.normalizedStd), columns: columns, plotWidth: plotWidth)
            for c in 0..<plotWidth {
                guard let span = spans[c] else { continue }
                for r in row(span.max)...row(span.min) { grid[r][c] = "*" }
            }
            for r in 0..<rows {
                lines.append(label(labels[r]) + "|" + paint(grid[r], firing: firing, style: style))
            }
        }

        // Clamp share panel.
        let clamps = points.compactMap(\.clampFraction)
        if clamps.isEmpty {
            lines.append("clamp share: - (clip_sample is off)")
        } else {
            let limit = clampLimit ?? 0
            lines.append(style.bold("clamp share") + (clampLimit.map { " (limit \(Fmt.percent($0)))" } ?? ""))
            let hi = max(clamps.max()!, limit * 2, 1e-6)
            let rows = clampRows
            let colMax = aggregate(points.map(\.clampFraction), columns: columns, plotWidth: plotWidth).map { $0?.max }
            // Bars grow from the bottom row; row r (0 top) is filled when the
            // value reaches its lower edge.
            let limitRow = clampLimit.map { rows - 1 - Int(($0 / hi * Double(rows)).rounded(.down)).clamped(0, rows - 1) }
            for r in 0..<rows {
                let edge = hi * Double(rows - 1 - r) / Double(rows)
                var cells = [Character](repeating: r == limitRow ? "-" : " ", count: plotWidth)
                for c in 0..<plotWidth {
                    guard let v = colMax[c] else { continue }
                    if v > edge || (r == rows - 1 && v > 0) { cells[c] = "#" }
                }
                let text: String? = r == 0 ? Fmt.percent(hi) : (r == limitRow ? Fmt.percent(limit) : (r == rows - 1 ? "0%" : nil))
                lines.append(label(text) + "|" + paint(cells, firing: firing, style: style))
            }
        }

        // Alert row, axis and ticks.
        var alertCells = [Character](repeating: " ", count: plotWidth)
        for c in 0..<plotWidth where !firing[c].isEmpty {
            alertCells[c] = firing[c].count == 1 ? firing[c].first! : "!"
        }
        lines.append(label("firing") + "|" + style.red(String(alertCells)))
        lines.append(String(repeating: " ", count: Self.labelWidth) + "+" + String(repeating: "-", count: plotWidth))
        lines.append(ticks(plotWidth: plotWidth, usesSteps: usesSteps))
        let kinds = Set(firing.flatMap { $0 })
        if !kinds.isEmpty {
            let names: [(Character, String)] = [("V", "variance drift"), ("M", "mean drift"), ("C", "clamp"), ("N", "non-finite"), ("A", "other"), ("!", "several")]
            lines.append(String(repeating: " ", count: Self.labelWidth + 1)
                + names.filter { kinds.contains($0.0) || ($0.0 == "!" && firing.contains { $0.count > 1 }) }
                    .map { "\($0.0) \($0.1)" }.joined(separator: "  "))
        }
        return lines
    }

    /// Per column, the range of the values that fall into it; columns between
    /// two batches (fewer batches than columns, or a gap in steps) carry the
    /// last value forward so that lines and bars stay continuous.
    func aggregate(_ values: [Double?], columns: [Int], plotWidth: Int) -> [(min: Double, max: Double)?] {
        var spans = [(min: Double, max: Double, last: Double)?](repeating: nil, count: plotWidth)
        for (i, value) in values.enumerated() {
            guard let v = value else { continue }
            let c = columns[i]
            if let s = spans[c] {
                spans[c] = (Swift.min(s.min, v), Swift.max(s.max, v), v)
            } else {
                spans[c] = (v, v, v)
            }
        }
        var previous: Double?
        for c in 0..<plotWidth {
            if let s = spans[c] {
                previous = s.last
            } else if let p = previous, spans[(c + 1)...].contains(where: { $0 != nil }) {
                spans[c] = (p, p, p)
            }
        }
        return spans.map { $0.map { ($0.min, $0.max) } }
    }

    /// The column of each point: spread by step (or batch number) so gaps in
    /// training steps show as gaps.
    func columnAssignment(plotWidth: Int) -> [Int] {
        let xs = points.map { Double($0.step ?? $0.seq) }
        let usesSteps = points.allSatisfy { $0.step != nil }
        let values = usesSteps ? xs : points.indices.map(Double.init)
        guard let lo = values.min(), let hi = values.max(), hi > lo else {
            return points.indices.map { _ in 0 }
        }
        return values.map { Int((($0 - lo) / (hi - lo) * Double(plotWidth - 1)).rounded()).clamped(0, plotWidth - 1) }
    }

    func ticks(plotWidth: Int, usesSteps: Bool) -> String {
        let first = points.first!, last = points.last!
        let lo = usesSteps ? first.step! : first.seq
        let hi = usesSteps ? last.step! : last.seq
        let unit = usesSteps ? "step" : "batch"
        var cells = [Character](repeating: " ", count: plotWidth + 1)
        func put(_ text: String, at col: Int) {
            let start = min(max(0, col), cells.count - text.count)
            for (i, ch) in text.enumerated() where start + i < cells.count { cells[start + i] = ch }
        }
        put(String(lo), at: 0)
        if hi != lo {
            let midValue = lo + (hi - lo) / 2
            if midValue != lo && midValue != hi {
                let mid = String(midValue)
                put(mid, at: plotWidth / 2 - mid.count / 2)
            }
            put(String(hi), at: plotWidth + 1 - String(hi).count)
        }
        return String(repeating: " ", count: Self.labelWidth - unit.count - 1) + unit + " " + String(cells)
    }

    func label(_ text: String?) -> String {
        let t = text ?? ""
        return String(repeating: " ", count: max(0, Self.labelWidth - 1 - t.count)) + t + " "
    }

    func paint(_ cells: [Character], firing: [Set<Character>], style: Style) -> String {
        guard style.enabled else { return String(cells) }
        var out = ""
        for (c, ch) in cells.enumerated() {
            out += ch == "*" || ch == "#" ? (firing[c].isEmpty ? String(ch) : style.red(String(ch))) : (ch == " " ? " " : style.dim(String(ch)))
        }
        return out
    }
}

extension Comparable {
    func clamped(_ lo: Self, _ hi: Self) -> Self { min(max(self, lo), hi) }
}
