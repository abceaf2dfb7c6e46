import Foundation

/// Everything `scalectl report` fetched from the daemon, so that the page is
/// a pure function of it (and testable without a daemon).
public struct ReportInput: Sendable {
    public var stream: String
    public var generatedAt: Date
    /// `GET /v1/streams/{name}`.
    public var status: JSONValue
    /// The rows of `GET …/history`, oldest first.
    public var history: [JSONValue]
    /// This stream's entries of `GET /v1/alerts?all=true`.
    public var alerts: [JSONValue]
    /// `GET …/normalization?mode=channel` (per-channel std intervals), if it answered.
    public var channelNormalization: JSONValue?
    /// The mode whose diffusers keys are shown, and `…/normalization?mode=…&format=diffusers`.
    public var diffusersMode: String
    public var diffusers: JSONValue?
    public var histogram: ReportHistogram?

    public init(stream: String, generatedAt: Date, status: JSONValue, history: [JSONValue], alerts: [JSONValue],
                channelNormalization: JSONValue? = nil, diffusersMode: String = "scalar", diffusers: JSONValue? = nil,
                histogram: ReportHistogram? = nil) {
        self.stream = stream
        self.generatedAt = generatedAt
        self.status = status
        self.history = history
        self.alerts = alerts
        self.channelNormalization = channelNormalization
        self.diffusersMode = diffusersMode
        self.diffusers = diffusers
        self.histogram = histogram
    }

    /// The diffusers mode that matches the reference in use: `channel` for
    /// a per-channel reference, `shift` for a scalar one with a shift, else `scalar`.
    public static func diffusersMode(for status: JSONValue) -> String {
        guard let ref = status["reference"], !ref.isNull else { return "scalar" }
        if let m = ref["latents_mean"], !m.isNull { return "channel" }
        if let s = ref["shift_factor"]?.double, s != 0 { return "shift" }
        return "scalar"
    }

    var config: JSONValue? { status["config"] }
    var targetStd: Double { config?["target_std"]?.double ?? 1 }
    var driftTolerance: Double { config?["drift_tolerance"]?.double ?? 0.05 }
    var clipRange: Double { status["clamp"]?["range"]?.double ?? config?["scheduler"]?["clip_sample_range"]?.double ?? 1 }
    var clipEnabled: Bool { status["clamp"]?["enabled"]?.bool ?? config?["scheduler"]?["clip_sample"]?.bool ?? true }

    /// Elements per sample: history rows carry samples, not elements.
    var elementsPerSample: Double {
        let t = status["totals"]
        let samples = Double(t?["samples"]?.int ?? 0)
        return samples > 0 ? Double(t?["elements"]?.int ?? 0) / samples : 0
    }

    var batches: [HistoryBatch] { history.map { HistoryBatch($0, elementsPerSample: elementsPerSample) } }
}
