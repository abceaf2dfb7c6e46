/// The C×C co-moment matrix of the channel vector, each position across the
/// non-channel axes being one observation: Σₖ (xₖ − x̄)(xₖ − x̄)ᵀ.
///
/// A position where any channel is non-finite is left out entirely, so
/// `count` and `mean` may differ from the per-channel moments when NaN/inf
/// are present.
public struct ChannelCovariance: Sendable, Equatable {
    public var channels: Int
    public var count: Int
    public var mean: [Double]
    /// Row-major, full (both triangles filled).
    public var comoment: [Double]

    public init(channels: Int) {
        self.channels = channels; count = 0
        mean = Array(repeating: 0, count: channels)
        comoment = Array(repeating: 0, count: channels * channels)
    }

    public init(channels: Int, count: Int, mean: [Double], comoment: [Double]) {
        self.channels = channels; self.count = count; self.mean = mean; self.comoment = comoment
    }

    /// Merges with Chan et al.'s pairwise update: C = Ca + Cb + δδᵀ·na·nb/n.
    public mutating func merge(_ other: ChannelCovariance) {
        precondition(channels == other.channels, "channel counts differ")
        other.mean.withUnsafeBufferPointer { m in
            other.comoment.withUnsafeBufferPointer { co in
                merge(count: other.count, mean: m.baseAddress!, comoment: co.baseAddress!)
            }
        }
    }

    /// ``merge(_:)`` of `count` positions with the given channel means and
    /// full row-major co-moments, read in place (the ingest loop's form: no
    /// arrays are made).
    mutating func merge(count otherCount: Int, mean otherMean: UnsafePointer<Double>, comoment otherCo: UnsafePointer<Double>) {
        guard otherCount > 0 else { return }
        let c = channels
        guard count > 0 else {
            count = otherCount
            for a in 0..<c { mean[a] = otherMean[a] }
            for i in 0..<(c * c) { comoment[i] = otherCo[i] }
            return
        }
        let na = Double(count), nb = Double(otherCount), n = na + nb
        let w = na * nb / n
        // Through pointers: indexing the arrays element by element checked
        // their uniqueness on every write.
        mean.withUnsafeMutableBufferPointer { mean in
            comoment.withUnsafeMutableBufferPointer { comoment in
                withUnsafeTemporaryAllocation(of: Double.self, capacity: c) { delta in
                    for a in 0..<c { delta[a] = otherMean[a] - mean[a] }
                    for a in 0..<c {
                        for b in 0..<c {
                            comoment[a &* c &+ b] += otherCo[a &* c &+ b] + delta[a] * delta[b] * w
                        }
                    }
                    for a in 0..<c { mean[a] += delta[a] * nb / n }
                }
            }
        }
        count += otherCount
    }

    /// Population covariance (ddof 0), row-major; nil when empty.
    public var covariance: [Double]? {
        guard count > 0 else { return nil }
        let n = Double(count)
        return comoment.map { $0 / n }
    }

    /// Pearson correlation, row-major; entries for constant channels are 0 (1 on the diagonal).
    public var correlation: [Double]? {
        guard count > 0 else { return nil }
        let c = channels
        var r = [Double](repeating: 0, count: c * c)
        for a in 0..<c {
            for b in 0..<c {
                let den = (comoment[a * c + a] * comoment[b * c + b]).squareRoot()
                r[a * c + b] = a == b ? 1 : (den > 0 ? comoment[a * c + b] / den : 0)
            }
        }
        return r
    }
}
