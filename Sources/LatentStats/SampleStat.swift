/// One sample's (axis-0 entry's) own statistics over its finite elements, as
/// the per-sample outlier check needs them.
public struct SampleStat: Sendable, Equatable {
    /// Mean of the sample's finite elements (nil when none is finite).
    public var mean: Double?
    /// Population std (ddof 0) of the sample's finite elements.
    public var std: Double?
    /// NaN elements in the sample.
    public var nan: Int
    /// +inf and −inf elements in the sample.
    public var inf: Int
    /// Whether the sample was left out of the summary (`exclude_nonfinite_samples`).
    public var excluded: Bool

    public init(mean: Double?, std: Double?, nan: Int = 0, inf: Int = 0, excluded: Bool = false) {
        self.mean = mean; self.std = std; self.nan = nan; self.inf = inf; self.excluded = excluded
    }

    init(_ m: Moments, nan: Int, inf: Int, excluded: Bool) {
        self.init(mean: m.count > 0 ? m.mean : nil, std: m.std, nan: nan, inf: inf, excluded: excluded)
    }

    /// Non-finite elements of every kind.
    public var nonfinite: Int { nan + inf }
}

/// What ``BatchSummary/ingestSamples(bytes:layout:normalizer:excludeNonfiniteSamples:)`` returns.
public struct IngestResult: Sendable {
    public var summary: BatchSummary
    public var clamp: ClampCount?
    public var samples: [SampleStat]
}
