import Foundation

/// The fields of a `PUT /v1/streams/{name}`, each optional: only what the
/// user gave is sent, so the daemon keeps everything else.
public struct ConfigPatch: Equatable, Sendable {
    public var scalingFactor: Double?
    public var shiftFactor: Double?
    public var latentsMean: [Double]?
    public var latentsStd: [Double]?
    public var clearReference = false
    public var clipSample: Bool?
    public var clipRange: Double?
    /// Read from scheduler configs only; the daemon keeps it for display.
    public var thresholding: Bool?
    public var targetStd: Double?
    public var window: Int?
    public var driftTolerance: Double?
    public var clampMaxFraction: Double?
    public var alertFor: Int?
    public var channelAxis: Int?
    /// Bucket and outlier settings (`max_buckets`, `outlier_z`, …), sent as given.
    public var details: [String: JSONValue] = [:]

    public init() {}

    public var isEmpty: Bool { self == ConfigPatch() }

    var setsReference: Bool {
        scalingFactor != nil || shiftFactor != nil || latentsMean != nil || latentsStd != nil
    }

    /// The request body. A reference is sent whole (the daemon replaces it),
    /// with only the fields given.
    public var json: JSONValue {
        var pairs: [(String, JSONValue)] = []
        if let channelAxis { pairs.append(("channel_axis", JSONValue(channelAxis))) }
        if let targetStd { pairs.append(("target_std", JSONValue(targetStd))) }
        if clearReference {
            pairs.append(("reference", .null))
        } else if setsReference {
            var r: [(String, JSONValue)] = []
            if let scalingFactor { r.append(("scaling_factor", JSONValue(scalingFactor))) }
            if let shiftFactor { r.append(("shift_factor", JSONValue(shiftFactor))) }
            if let latentsMean { r.append(("latents_mean", .array(latentsMean.map(JSONValue.init)))) }
            if let latentsStd { r.append(("latents_std", .array(latentsStd.map(JSONValue.init)))) }
            pairs.append(("reference", .object(r)))
        }
        if clipSample != nil || clipRange != nil || thresholding != nil {
            var s: [(String, JSONValue)] = []
            if let clipSample { s.append(("clip_sample", .bool(clipSample))) }
            if let clipRange { s.append(("clip_sample_range", JSONValue(clipRange))) }
            if let thresholding { s.append(("thresholding", .bool(thresholding))) }
            pairs.append(("scheduler", .object(s)))
        }
        if let window { pairs.append(("window_batches", JSONValue(window))) }
        if let driftTolerance { pairs.append(("drift_tolerance", JSONValue(driftTolerance))) }
        if let clampMaxFraction { pairs.append(("clamp_max_fraction", JSONValue(clampMaxFraction))) }
        if let alertFor { pairs.append(("alert_for_batches", JSONValue(alertFor))) }
        for key in details.keys.sorted() { pairs.append((key, details[key]!)) }
        return .object(pairs)
    }

    /// Fields set in `other` win.
    public func overridden(by other: ConfigPatch) -> ConfigPatch {
        var out = self
        if other.scalingFactor != nil { out.scalingFactor = other.scalingFactor }
        if other.shiftFactor != nil { out.shiftFactor = other.shiftFactor }
        if other.latentsMean != nil { out.latentsMean = other.latentsMean }
        if other.latentsStd != nil { out.latentsStd = other.latentsStd }
        if other.clearReference { out.clearReference = true }
        if other.clipSample != nil { out.clipSample = other.clipSample }
        if other.clipRange != nil { out.clipRange = other.clipRange }
        if other.thresholding != nil { out.thresholding = other.thresholding }
        if other.targetStd != nil { out.targetStd = other.targetStd }
        if other.window != nil { out.window = other.window }
        if other.driftTolerance != nil { out.driftTolerance = other.driftTolerance }
        if other.clampMaxFraction != nil { out.clampMaxFraction = other.clampMaxFraction }
        if other.alertFor != nil { out.alertFor = other.alertFor }
        if other.channelAxis != nil { out.channelAxis = other.channelAxis }
        out.details.merge(other.details) { _, new in new }
        return out
    }

    /// Settings from one diffusers config: a VAE's `scaling_factor`,
    /// `shift_factor`, `latents_mean`, `latents_std`, and a scheduler's
    /// `clip_sample`, `clip_sample_range`, `thresholding`. Null and absent
    /// keys are left unset. `notes` says what was read, for the user.
    public static func fromDiffusers(_ config: JSONValue) -> (patch: ConfigPatch, notes: [String]) {
        var p = ConfigPatch()
        var notes: [String] = []
        p.scalingFactor = config["scaling_factor"]?.double
        p.shiftFactor = config["shift_factor"]?.double
        p.latentsMean = config["latents_mean"]?.array.flatMap { a in a.compactMap(\.double).count == a.count ? a.compactMap(\.double) : nil }
        p.latentsStd = config["latents_std"]?.array.flatMap { a in a.compactMap(\.double).count == a.count ? a.compactMap(\.double) : nil }
        p.clipSample = config["clip_sample"]?.bool
        p.clipRange = config["clip_sample_range"]?.double
        p.thresholding = config["thresholding"]?.bool
        if config["thresholding"]?.bool == true {
            // diffusers applies dynamic thresholding instead of the fixed
            // clamp when both are on (`if thresholding … elif clip_sample`).
            p.clipSample = false
            notes.append("thresholding is on, so diffusers does not apply the fixed clamp: clip_sample set off")
        }
        return (p, notes)
    }

    /// The config files to read for a path: the file itself, or for a
    /// directory its `config.json`, `vae/config.json` and
    /// `scheduler/scheduler_config.json` (a diffusers pipeline folder).
    public static func diffusersFiles(at path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            return [path]
        }
        let candidates = ["config.json", "scheduler_config.json", "vae/config.json", "scheduler/scheduler_config.json"]
        return candidates.map { (path as NSString).appendingPathComponent($0) }
            .filter { FileManager.default.fileExists(atPath: $0) }
    }
}

/// Comma-separated numbers on the command line: `0.1,-0.2,0.3`.
public struct DoubleList: Equatable, Sendable {
    public var values: [Double]

    public init?(_ text: String) {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " []")) }
        let values = parts.compactMap(Double.init)
        guard !parts.isEmpty, values.count == parts.count, values.allSatisfy(\.isFinite) else { return nil }
        self.values = values
    }
}
