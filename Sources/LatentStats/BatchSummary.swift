/// Everything `scaled` keeps about a set of latents, in a form that merges exactly.
///
/// A summary is built from one pushed tensor by ``ingest(bytes:layout:normalizer:)``
/// and merged with others by ``merge(_:)``. Merging the summaries of any split
/// of a tensor gives the summary of the whole, up to float rounding, so a
/// stream's cumulative statistics, its rolling window and summaries from
/// several machines are all just merges.
///
/// All moments are over finite elements; NaN, +inf and −inf are counted and
/// excluded.
public struct BatchSummary: Sendable, Equatable {
    /// Channels (the length of the channel axis).
    public let channels: Int
    /// Batches merged into this summary.
    public var batches: Int
    /// Samples (axis-0 entries).
    public var samples: Int
    /// All elements, finite or not.
    public var elements: Int
    public var nanCount: Int
    public var posInfCount: Int
    public var negInfCount: Int
    /// Moments of all finite elements.
    public var total: Moments
    /// Moments of the finite elements of each channel.
    public var perChannel: [Moments]
    /// Channel co-moments (positions are observations).
    public var covariance: ChannelCovariance
    /// Sketch of the raw finite values.
    public var sketch: QuantileSketch
    /// Between-sample variability over all channels.
    public var sampleSpread: SampleSpread
    /// Between-sample variability per channel.
    public var channelSpread: [SampleSpread]

    /// The empty summary for `channels` channels: the identity of ``merge(_:)``.
    public init(channels: Int) {
        self.channels = channels
        batches = 0; samples = 0; elements = 0
        nanCount = 0; posInfCount = 0; negInfCount = 0
        total = .empty
        perChannel = Array(repeating: .empty, count: channels)
        covariance = ChannelCovariance(channels: channels)
        sketch = QuantileSketch()
        sampleSpread = .empty
        channelSpread = Array(repeating: .empty, count: channels)
    }

    /// Non-finite elements of every kind.
    public var nonfiniteCount: Int { nanCount + posInfCount + negInfCount }

    /// Merges `other` into `self`. Both must have the same channel count.
    public mutating func merge(_ other: BatchSummary) {
        mergeMoments(other)
        sketch.merge(other.sketch)
    }

    /// ``merge(_:)`` without the sketch: the same arithmetic in the same
    /// order, so the moments come out bit for bit the same. It reads `other`
    /// in place and writes each array through one pointer, where copying
    /// `other` and indexing element by element cost the window's re-merge
    /// most of its time in retains and uniqueness checks.
    public mutating func mergeMoments(_ other: BatchSummary) {
        precondition(channels == other.channels, "cannot merge summaries with \(channels) and \(other.channels) channels")
        batches += other.batches
        samples += other.samples
        elements += other.elements
        nanCount += other.nanCount
        posInfCount += other.posInfCount
        negInfCount += other.negInfCount
        total.merge(other.total)
        let c = channels
        perChannel.withUnsafeMutableBufferPointer { mine in
            other.perChannel.withUnsafeBufferPointer { theirs in
                for i in 0..<c { mine[i].merge(theirs[i]) }
            }
        }
        channelSpread.withUnsafeMutableBufferPointer { mine in
            other.channelSpread.withUnsafeBufferPointer { theirs in
                for i in 0..<c { mine[i].merge(theirs[i]) }
            }
        }
        covariance.merge(other.covariance)
        sampleSpread.merge(other.sampleSpread)
    }

    /// The left fold of `summaries` with ``merge(_:)``, oldest first: the same
    /// result, but the sketches are merged in one pass (their counts are
    /// integers, so the order of that merge cannot matter).
    ///
    /// With `sketch: false` the result's sketch is left empty (for callers
    /// that need only moments, and merge the sketches when asked for quantiles).
    public static func merged(_ summaries: some Collection<BatchSummary>, channels: Int, sketch: Bool = true) -> BatchSummary {
        var out = BatchSummary(channels: channels)
        for s in summaries { out.mergeMoments(s) }
        if sketch { out.sketch = QuantileSketch.merged(summaries.lazy.map(\.sketch)) }
        return out
    }

    /// `self` merged with `other`.
    public func merging(_ other: BatchSummary) -> BatchSummary {
        var s = self; s.merge(other); return s
    }

    /// The value at quantile `q`, from the sketch, clamped to the exact min and max.
    public func quantile(_ q: Double) -> Double? {
        guard total.count > 0 else { return nil }
        if q <= 0 { return total.min }
        if q >= 1 { return total.max }
        guard let v = sketch.quantile(q, min: total.min, max: total.max) else { return nil }
        return Swift.min(Swift.max(v, total.min), total.max)
    }
}
