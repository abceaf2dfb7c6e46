/// How the samples of a stream (axis 0) vary: moments of each sample's own
/// variance, mean and mean square.
///
/// This is what a confidence interval on the scale needs (the sample, not the
/// element, is the independent unit: elements within one latent are strongly
/// correlated). Only the moments of the per-sample series are kept, not the
/// series, so memory does not grow with the samples pushed.
public struct SampleSpread: Sendable, Equatable {
    /// Moments of vᵢ, the population variance of sample i.
    public var variances: Moments
    /// Moments of mᵢ, the mean of sample i.
    public var means: Moments
    /// Moments of qᵢ = vᵢ + mᵢ², the mean square of sample i.
    public var meanSquares: Moments

    public static let empty = SampleSpread(variances: .empty, means: .empty, meanSquares: .empty)

    public init(variances: Moments, means: Moments, meanSquares: Moments) {
        self.variances = variances; self.means = means; self.meanSquares = meanSquares
    }

    /// Number of samples seen.
    public var samples: Int { variances.count }

    /// Adds one sample, given the moments of its finite elements.
    public mutating func add(sample m: Moments) {
        guard m.count > 0, let v = m.variance else { return }
        variances.add(v)
        means.add(m.mean)
        meanSquares.add(v + m.mean * m.mean)
    }

    public mutating func merge(_ other: SampleSpread) {
        variances.merge(other.variances)
        means.merge(other.means)
        meanSquares.merge(other.meanSquares)
    }
}
