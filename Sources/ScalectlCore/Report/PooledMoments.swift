import Foundation

/// Count, mean and sum of squared deviations (M2) of a set of values, merged
/// exactly with Chan, Golub and LeVeque's pairwise formula.
///
/// `GET …/history` gives each batch's count, mean and population std, which
/// is all the merge needs: the cumulative mean and std at every batch come
/// out as if computed over every element, without E[x²] − E[x]² (latents
/// offset by 1e4 stay exact).
public struct PooledMoments: Equatable, Sendable {
    /// Number of values (a Double: counts of elements exceed Int32 and are summed as weights).
    public var count: Double
    public var mean: Double
    /// Σ (x − mean)².
    public var m2: Double

    public static let empty = PooledMoments(count: 0, mean: 0, m2: 0)

    public init(count: Double, mean: Double, m2: Double) {
        self.count = count
        self.mean = mean
        self.m2 = m2
    }

    /// One batch from its element count, mean and population std (ddof 0).
    public init(count: Double, mean: Double, std: Double) {
        self.init(count: count, mean: mean, m2: std * std * count)
    }

    /// The moments of a list of values (two-pass), for tests and small inputs.
    public init(values: [Double]) {
        let n = Double(values.count)
        guard n > 0 else { self.init(count: 0, mean: 0, m2: 0); return }
        let mean = values.reduce(0, +) / n
        self.init(count: n, mean: mean, m2: values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) })
    }

    /// Population variance (ddof 0); nil when empty.
    public var variance: Double? { count > 0 ? m2 / count : nil }
    /// Population std (ddof 0); nil when empty.
    public var std: Double? { variance.map { $0.squareRoot() } }
    /// Mean of squares, for rms-style factors; nil when empty.
    public var meanSquare: Double? { count > 0 ? m2 / count + mean * mean : nil }

    /// Chan's merge: exact, and the same whichever way the parts are grouped
    /// (up to rounding).
    public func merged(with other: PooledMoments) -> PooledMoments {
        if other.count == 0 { return self }
        if count == 0 { return other }
        let n = count + other.count
        let delta = other.mean - mean
        return PooledMoments(count: n,
                             mean: mean + delta * (other.count / n),
                             m2: m2 + other.m2 + delta * delta * (count * other.count / n))
    }

    public mutating func merge(_ other: PooledMoments) { self = merged(with: other) }
}
