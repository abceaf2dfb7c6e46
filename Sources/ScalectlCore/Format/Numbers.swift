import Foundation

/// How scalectl spells numbers for people: few digits, `-` for unknown.
public enum Fmt {
    /// `value` with `digits` significant digits (`0.18215`, `1.002`), `-` when nil.
    public static func sig(_ value: Double?, _ digits: Int = 5) -> String {
        guard let value else { return "-" }
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        if value == 0 { return "0" }
        let magnitude = abs(value)
        if magnitude >= 1e-4 && magnitude < 1e7 {
            // %g drops trailing zeros, which is what we want for a factor.
            return String(format: "%.\(digits)g", value)
        }
        return String(format: "%.\(max(digits - 1, 1))e", value)
    }

    /// Counts for tables: exact below 10 000, then `12.3k`, `4.5M`, `1.2G`.
    public static func count(_ value: Int?) -> String {
        guard let value else { return "-" }
        let v = Double(value)
        switch abs(v) {
        case ..<10_000: return String(value)
        case ..<1e6: return trim(String(format: "%.1f", v / 1e3)) + "k"
        case ..<1e9: return trim(String(format: "%.1f", v / 1e6)) + "M"
        case ..<1e12: return trim(String(format: "%.1f", v / 1e9)) + "G"
        default: return trim(String(format: "%.1f", v / 1e12)) + "T"
        }
    }

    /// A share as a percentage with two significant digits: `31.7%`, `0.12%`,
    /// `<0.001%` for tiny non-zero shares, `0%` for none.
    public static func percent(_ fraction: Double?) -> String {
        guard let fraction else { return "-" }
        if fraction.isNaN { return "nan" }
        if fraction == 0 { return "0%" }
        let p = fraction * 100
        if abs(p) < 0.001 { return "<0.001%" }
        if abs(p) >= 10 { return String(format: "%.1f%%", p) }
        return String(format: "%.2g%%", p)
    }

    /// Byte sizes: `512 B`, `3.4 MB` (decimal units, as rates are usually read).
    public static func bytes(_ value: Double) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var v = value
        var unit = 0
        while abs(v) >= 1000, unit < units.count - 1 { v /= 1000; unit += 1 }
        return unit == 0 ? "\(Int(v)) B" : String(format: "%.1f %@", v, units[unit])
    }

    /// A duration for an ETA or an elapsed time: `42s`, `3m05s`, `2h10m`.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "--" }
        if seconds < 10 { return String(format: "%.1fs", seconds) }
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
        if s < 86400 { return String(format: "%dh%02dm", s / 3600, s % 3600 / 60) }
        return String(format: "%dd%02dh", s / 86400, s % 86400 / 3600)
    }

    /// How long ago `timestamp` was: `12s`, `5m`, `3h`, `2d`; `-` when nil or unreadable.
    public static func age(_ timestamp: String?, now: Date = Date()) -> String {
        guard let timestamp, let date = parseTimestamp(timestamp) else { return "-" }
        let s = max(0, now.timeIntervalSince(date))
        switch s {
        case ..<60: return "\(Int(s))s"
        case ..<3600: return "\(Int(s / 60))m"
        case ..<86400: return "\(Int(s / 3600))h"
        default: return "\(Int(s / 86400))d"
        }
    }

    /// Parses the daemon's RFC 3339 timestamps, with or without fractional seconds.
    public static func parseTimestamp(_ text: String) -> Date? {
        let withFraction = ISO8601DateFormatter()
        withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = withFraction.date(from: text) { return d }
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        return plain.date(from: text)
    }

    /// A timestamp for plain log-style lines: `2026-11-27T10:51:43Z`.
    public static func timestamp(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }

    /// A list of numbers, comma-separated, each with `digits` significant digits.
    public static func list(_ values: [Double]?, _ digits: Int = 4) -> String {
        guard let values else { return "-" }
        return values.map { sig($0, digits) }.joined(separator: ", ")
    }

    private static func trim(_ s: String) -> String {
        s.hasSuffix(".0") ? String(s.dropLast(2)) : s
    }
}
