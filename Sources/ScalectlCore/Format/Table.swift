/// A plain-text table with aligned columns. Cells may carry ANSI colour;
/// widths are measured on the visible text.
public struct Table {
    public enum Alignment: Sendable { case left, right }

    public var headers: [String]
    public var alignments: [Alignment]
    public var rows: [[String]] = []

    public init(_ columns: [(String, Alignment)]) {
        headers = columns.map(\.0)
        alignments = columns.map(\.1)
    }

    public mutating func add(_ row: [String]) { rows.append(row) }

    /// The table as lines; `maxWidth` truncates the last column (for a
    /// terminal), `style` emboldens the header.
    public func render(style: Style = Style(enabled: false), maxWidth: Int? = nil) -> [String] {
        var widths = headers.map(visibleWidth)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count {
                widths[i] = max(widths[i], visibleWidth(cell))
            }
        }
        func line(_ cells: [String], header: Bool) -> String {
            var parts: [String] = []
            for (i, cell) in cells.enumerated() {
                let pad = String(repeating: " ", count: max(0, widths[i] - visibleWidth(cell)))
                let last = i == cells.count - 1
                switch alignments[i] {
                case .left: parts.append(last ? cell : cell + pad)
                case .right: parts.append(pad + cell)
                }
            }
            var text = parts.joined(separator: "  ")
            if let maxWidth { text = truncateVisible(text, to: maxWidth) }
            return header ? style.bold(text) : text
        }
        return [line(headers, header: true)] + rows.map { line($0, header: false) }
    }
}

/// Characters a terminal shows, skipping ANSI escape sequences.
public func visibleWidth(_ s: String) -> Int {
    var width = 0
    var inEscape = false
    for scalar in s.unicodeScalars {
        if inEscape {
            if (0x40...0x7E).contains(scalar.value) && scalar != "[" { inEscape = false }
            continue
        }
        if scalar == "\u{1B}" { inEscape = true; continue }
        width += 1
    }
    return width
}

/// Cuts a line to `width` visible characters, keeping colour escapes intact.
func truncateVisible(_ s: String, to width: Int) -> String {
    guard visibleWidth(s) > width else { return s }
    var out = ""
    var visible = 0
    var inEscape = false
    for scalar in s.unicodeScalars {
        if inEscape {
            out.unicodeScalars.append(scalar)
            if (0x40...0x7E).contains(scalar.value) && scalar != "[" { inEscape = false }
            continue
        }
        if scalar == "\u{1B}" { inEscape = true; out.unicodeScalars.append(scalar); continue }
        if visible == width - 1 { break }
        out.unicodeScalars.append(scalar)
        visible += 1
    }
    return out + "…" + (s.contains("\u{1B}[") ? "\u{1B}[0m" : "")
}
