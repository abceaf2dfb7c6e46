import Foundation

/// The kinds of flag `scaled` raises.
public enum AlertKind: String, Sendable, CaseIterable, Codable {
    case varianceDrift = "variance_drift"
    case meanDrift = "mean_drift"
    case clampOutOfRange = "clamp_out_of_range"
    case nonfinite
    case bucketMismatch = "bucket_mismatch"
    case sampleOutlier = "sample_outlier"

    /// Non-finite latents are critical: training on them corrupts the model.
    public var severity: AlertSeverity { self == .nonfinite ? .critical : .warning }
}

/// How urgent an alert is.
public enum AlertSeverity: String, Sendable, CaseIterable, Codable {
    case warning, critical
}

/// The state an alert transition moves to, as stored and announced.
public enum AlertState: String, Sendable, CaseIterable, Codable {
    case pending, firing, resolved
}

/// Where an alert is in its lifecycle.
public enum AlertPhase: String, Sendable, Codable {
    case inactive, pending, firing
}
