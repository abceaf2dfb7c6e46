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

    public init() {}
}
