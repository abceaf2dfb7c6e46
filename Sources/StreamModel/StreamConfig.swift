import Foundation

/// A stream's configuration (`scaled-protocol(7)`, "Stream config"). Every field has a default.
public struct StreamConfig: Sendable, Equatable {
    public var channelAxis = 1
    public var targetStd = 1.0
    /// The declared reference, if any.
    public var reference: Reference?
    public var clipSample = false
    public var clipSampleRange = 1.0
    /// Carried from scheduler configs for display; `scaled` does not model dynamic thresholding.
    public var thresholding = false
    public var windowBatches = 100
    public var driftTolerance = 0.05
    public var clampMaxFraction = 0.001
    public var alertForBatches = 3
    /// Tags with their own bucket; further tags share the `(other)` bucket (1…1024).
    public var maxBuckets = 64
    /// Robust z-score (median/MAD) above which a sample's mean or std makes it an outlier.
    public var outlierZ = 8.0
    /// A sample whose |mean| exceeds this is an outlier (nil: no limit).
    public var sampleMeanAbsMax: Double?
    /// A sample whose std exceeds this is an outlier (nil: no limit).
    public var sampleStdMax: Double?
    /// `sample_outlier` holds while the window's share of outlier samples exceeds this.
    public var outlierMaxFraction = 0.01
    /// Leave samples holding NaN/inf out of the statistics entirely (they are still reported).
    public var excludeNonfiniteSamples = false

    public init() {}
}
