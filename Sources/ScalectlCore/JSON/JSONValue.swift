/// A JSON document that keeps what a person wrote: object keys stay in their
/// order and numbers keep their exact spelling.
///
/// `--write-config` rewrites a diffusers `config.json` that people diff and
/// commit, so untouched keys must come back byte-for-byte in value and order;
/// Foundation's `JSONSerialization` reorders keys and reformats numbers.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// The number as it was spelled in the source (or by `init(_ double:)`).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.number(a), .number(b)): return a == b || (Double(a) != nil && Double(a) == Double(b))
        case let (.string(a), .string(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// A number spelled the shortest way that reads back as the same double,
    /// as Python's `repr` does.
    public init(_ double: Double) {
        if double.isNaN { self = .number("NaN"); return }
        if double.isInfinite { self = .number(double < 0 ? "-Infinity" : "Infinity"); return }
        self = .number(pythonRepr(double))
    }

    public init(_ int: Int) { self = .number(String(int)) }

    // MARK: access

    public subscript(key: String) -> JSONValue? {
        guard case let .object(pairs) = self else { return nil }
        return pairs.last(where: { $0.0 == key })?.1
    }

    public var double: Double? {
        if case let .number(text) = self {
            switch text {
            case "NaN": return .nan
            case "Infinity": return .infinity
            case "-Infinity": return -.infinity
            default: return Double(text)
            }
        }
        return nil
    }

    public var int: Int? {
        guard case let .number(text) = self else { return nil }
        if let i = Int(text) { return i }
        if let d = Double(text), d.rounded() == d, abs(d) < 9.0e15 { return Int(d) }
        return nil
    }

    public var string: String? { if case let .string(s) = self { return s }; return nil }
    public var bool: Bool? { if case let .bool(b) = self { return b }; return nil }
    public var array: [JSONValue]? { if case let .array(a) = self { return a }; return nil }
    public var object: [(String, JSONValue)]? { if case let .object(o) = self { return o }; return nil }
    public var isNull: Bool { if case .null = self { return true }; return false }

    /// `nil` for JSON null as well as for a missing value, which is how the
    /// contract spells "not known yet".
    public var doubles: [Double]? { array?.compactMap(\.double) }

    /// Sets `key`, replacing the value in place or adding the key at the end.
    public mutating func set(_ key: String, _ value: JSONValue) {
        guard case var .object(pairs) = self else { return }
        if let index = pairs.firstIndex(where: { $0.0 == key }) {
            pairs[index].1 = value
        } else {
            pairs.append((key, value))
        }
        self = .object(pairs)
    }
}

/// Shortest round-tripping decimal. Swift's `description` spells doubles the
/// way Python's `repr(float)` does (`1.0`, `1e-05`, `1e+16`), which is what
/// diffusers writes into `config.json`.
func pythonRepr(_ value: Double) -> String { "\(value)" }
