import Foundation

extension JSONValue {
    /// Compact UTF-8 JSON with keys sorted by their UTF-8 bytes, written
    /// straight into `out`.
    ///
    /// These are the bytes Foundation's `JSONEncoder` gives with `.sortedKeys`
    /// (and `.withoutEscapingSlashes` unless `escapingSlashes`): numbers by
    /// Swift's shortest round-trip description without a trailing `.0`,
    /// strings escaped as it escapes them. `JSONWriterTests` holds the two
    /// equal over generated values. Every push answers with one of these and
    /// stores one in its stream row, and going through `Encoder` containers
    /// cost about as much as the rest of a small push's apply step.
    ///
    /// Non-finite numbers are written as `null` (``num(_:)`` makes them so
    /// already). Of a key given twice in one object, the last value is kept,
    /// as a keyed encoding container keeps it.
    public func write(into out: inout [UInt8], escapingSlashes: Bool = false) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .number(let d): Self.writeNumber(d, into: &out)
        case .string(let s): Self.writeString(s, into: &out, escapingSlashes: escapingSlashes)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, v) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                v.write(into: &out, escapingSlashes: escapingSlashes)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let pairs):
            out.append(UInt8(ascii: "{"))
            for (i, index) in Self.sortedUniqueKeys(pairs).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                Self.writeString(pairs[index].0, into: &out, escapingSlashes: escapingSlashes)
                out.append(UInt8(ascii: ":"))
                pairs[index].1.write(into: &out, escapingSlashes: escapingSlashes)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// The indices of `pairs` in key order, the last of each key only.
    static func sortedUniqueKeys(_ pairs: [(String, JSONValue)]) -> [Int] {
        var order = Array(pairs.indices)
        // Stable, so that among equal keys the last index comes last.
        order.sort { a, b in
            let (x, y) = (pairs[a].0, pairs[b].0)
            return x == y ? a < b : x.utf8.lexicographicallyPrecedes(y.utf8)
        }
        var kept: [Int] = []
        kept.reserveCapacity(order.count)
        for i in order {
            if let last = kept.last, pairs[last].0 == pairs[i].0 { kept[kept.count - 1] = i } else { kept.append(i) }
        }
        return kept
    }

    static func writeNumber(_ d: Double, into out: inout [UInt8]) {
        guard d.isFinite else { out.append(contentsOf: "null".utf8); return }
        let text = d.description
        if text.hasSuffix(".0") { out.append(contentsOf: text.utf8.dropLast(2)) } else { out.append(contentsOf: text.utf8) }
    }

    private static let hex = Array("0123456789abcdef".utf8)

    static func writeString(_ s: String, into out: inout [UInt8], escapingSlashes: Bool) {
        out.append(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case UInt8(ascii: "/") where escapingSlashes: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "/")])
            case 0x08: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                        hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// ``write(into:escapingSlashes:)`` as a new array.
    public func bytes(escapingSlashes: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(into: &out, escapingSlashes: escapingSlashes)
        return out
    }
}
