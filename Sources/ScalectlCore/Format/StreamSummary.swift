/// One stream's headline numbers, from either an entry of `GET /v1/streams`
/// or a full status, so that tables and watch lines read the same way.
public struct StreamSummary: Sendable {
    public var name: String
    public var batches: Int?
    public var samples: Int?
    public var elements: Int?
    public var scalingFactor: Double?
    public var normalizedStd: Double?
    public var clampFraction: Double?
    public var nonfinite: Int?
    public var lastPushAt: String?
    public var flags: [Flag]

    public struct Flag: Sendable, Equatable {
        public var kind: String
        public var state: String
        public var message: String?
        public var severity: Severity

        public init(kind: String, state: String, message: String?, severity: Severity) {
            self.kind = kind
            self.state = state
            self.message = message
            self.severity = severity
        }
    }

    /// From an entry of `GET /v1/streams`.
    public init(listEntry e: JSONValue) {
        name = e["name"]?.string ?? "?"
        batches = e["batches"]?.int
        samples = e["samples"]?.int
        elements = e["elements"]?.int
        scalingFactor = e["scaling_factor"]?.double
        normalizedStd = e["normalized_std"]?.double
        clampFraction = e["clamp_fraction"]?.double
        nonfinite = e["nonfinite"]?.int
        lastPushAt = e["last_push_at"]?.string
        flags = Self.flags(e["flags"])
    }

    /// From a full status (`GET /v1/streams/{name}`).
    public init(status s: JSONValue) {
        name = s["name"]?.string ?? "?"
        let totals = s["totals"]
        batches = totals?["batches"]?.int
        samples = totals?["samples"]?.int
        elements = totals?["elements"]?.int
        scalingFactor = s["estimate"]?["scaling_factor"]?.double
        normalizedStd = s["drift"]?["normalized_std"]?.double
        clampFraction = s["clamp"]?["enabled"]?.bool == false ? nil : s["clamp"]?["fraction_window"]?.double
        if let nf = totals?["nonfinite"] {
            nonfinite = nf.int ?? ["nan", "posinf", "neginf"].compactMap { nf[$0]?.int }.reduce(0, +)
        }
        lastPushAt = s["last_push_at"]?.string
        flags = Self.flags(s["flags"])
    }

    static func flags(_ value: JSONValue?) -> [Flag] {
        (value?.array ?? []).map { f in
            let kind = f["kind"]?.string ?? "?"
            return Flag(kind: kind, state: f["state"]?.string ?? "?", message: f["message"]?.string,
                        severity: Severity(kind: kind, declared: f["severity"]?.string))
        }
    }

    public var firing: [Flag] { flags.filter { $0.state == "firing" } }
}

/// How bad an alert is. The daemon says so in `/v1/alerts`; stream flags
/// carry no severity, so it is derived the same way there: non-finite values
/// are critical, everything else a warning.
public enum Severity: String, Sendable, Comparable {
    case warning, critical

    public init(kind: String, declared: String?) {
        if let declared, let s = Severity(rawValue: declared) { self = s; return }
        self = kind == "nonfinite" ? .critical : .warning
    }

    public static func < (a: Severity, b: Severity) -> Bool { a == .warning && b == .critical }
}

extension Style {
    /// A flag name coloured by severity and state.
    func flag(_ f: StreamSummary.Flag) -> String {
        switch (f.state, f.severity) {
        case ("firing", .critical): return red(f.kind)
        case ("firing", .warning): return yellow(f.kind)
        case ("pending", _): return dim(f.kind + "?")
        default: return f.kind
        }
    }
}

extension StreamSummary {
    /// The columns of `status` without a stream.
    public static func table(_ streams: [StreamSummary], style: Style) -> Table {
        var table = Table([
            ("STREAM", .left), ("BATCHES", .right), ("SAMPLES", .right), ("SCALE", .right),
            ("NORM STD", .right), ("CLAMP", .right), ("NONFINITE", .right), ("LAST PUSH", .right),
            ("FIRING", .left),
        ])
        for s in streams {
            let firing = s.firing.map { style.flag($0) }.joined(separator: ",")
            let nonfinite = s.nonfinite.map { $0 > 0 ? style.red(String($0)) : "0" } ?? "-"
            table.add([
                s.name, Fmt.count(s.batches), Fmt.count(s.samples), Fmt.sig(s.scalingFactor),
                Fmt.sig(s.normalizedStd, 4), Fmt.percent(s.clampFraction), nonfinite,
                s.lastPushAt == nil ? "never" : Fmt.age(s.lastPushAt) + " ago",
                firing.isEmpty ? "-" : firing,
            ])
        }
        return table
    }

    /// One `key=value` line for logs and `watch` without a terminal.
    public func line() -> String {
        let firing = firing.map(\.kind).joined(separator: ",")
        return [
            name, "batches=\(batches.map(String.init) ?? "-")", "samples=\(samples.map(String.init) ?? "-")",
            "scaling_factor=\(Fmt.sig(scalingFactor, 6))", "normalized_std=\(Fmt.sig(normalizedStd, 5))",
            "clamp_fraction=\(Fmt.sig(clampFraction, 3))", "nonfinite=\(nonfinite.map(String.init) ?? "-")",
            "firing=\(firing.isEmpty ? "-" : firing)",
        ].joined(separator: " ")
    }
}
