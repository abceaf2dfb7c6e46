/// Count, mean and central moment sums up to the fourth order, with min and max.
///
/// `m2`, `m3`, `m4` are sums of centred powers (Σ(x−x̄)^k), so merging two
/// summaries with Pébay's formulas is exact up to rounding and never
/// subtracts large squares: data offset by 1e4 with std 1 stays accurate.
public struct Moments: Sendable, Equatable {
    public var count: Int
    public var mean: Double
    public var m2: Double
    public var m3: Double
    public var m4: Double
    public var min: Double
    public var max: Double

    /// The empty summary: the identity of `merge`.
    public static let empty = Moments(count: 0, mean: 0, m2: 0, m3: 0, m4: 0, min: .infinity, max: -.infinity)

    public init(count: Int, mean: Double, m2: Double, m3: Double, m4: Double, min: Double, max: Double) {
        self.count = count; self.mean = mean; self.m2 = m2; self.m3 = m3; self.m4 = m4
        self.min = min; self.max = max
    }

    /// Two-pass moments of `values` (a plain reference implementation).
    public init<C: Collection>(values: C) where C.Element == Double {
        let n = values.count
        guard n > 0 else { self = .empty; return }
        let mean = values.reduce(0, +) / Double(n)
        var m2 = 0.0, m3 = 0.0, m4 = 0.0
        for x in values {
            let d = x - mean, d2 = d * d
            m2 += d2; m3 += d2 * d; m4 += d2 * d2
        }
        self.init(count: n, mean: mean, m2: m2, m3: m3, m4: m4,
                  min: values.min()!, max: values.max()!)
    }

    /// Adds one observation (Welford/Pébay update; used for small per-sample series).
    public mutating func add(_ x: Double) {
        merge(Moments(count: 1, mean: x, m2: 0, m3: 0, m4: 0, min: x, max: x))
    }

    /// Merges `other` into `self` (Pébay 2008, eq. 3.1–3.4).
    public mutating func merge(_ other: Moments) {
        guard other.count > 0 else { return }
        guard count > 0 else { self = other; return }
        let na = Double(count), nb = Double(other.count)
        let n = na + nb
        let delta = other.mean - mean
        let dn = delta / n
        let dn2 = dn * dn
        let t = delta * dn * na * nb // δ²·na·nb/n
        let m4 = self.m4 + other.m4
            + t * dn2 * (na * na - na * nb + nb * nb)
            + 6 * dn2 * (na * na * other.m2 + nb * nb * self.m2)
            + 4 * dn * (na * other.m3 - nb * self.m3)
        let m3 = self.m3 + other.m3
            + t * dn * (na - nb)
            + 3 * dn * (na * other.m2 - nb * self.m2)
        self.m2 = self.m2 + other.m2 + t
        self.m3 = m3
        self.m4 = m4
        self.mean += dn * nb
        self.count += other.count
        self.min = Swift.min(self.min, other.min)
        self.max = Swift.max(self.max, other.max)
    }

    /// Population variance (ddof 0); nil when empty.
    public var variance: Double? { count > 0 ? m2 / Double(count) : nil }
    /// Population standard deviation (ddof 0); nil when empty.
    public var std: Double? { variance.map { $0.squareRoot() } }
    /// Sample variance (ddof 1); nil with fewer than 2 observations.
    public var sampleVariance: Double? { count > 1 ? m2 / Double(count - 1) : nil }
    /// Σx², derived exactly from the centred sums.
    public var sumOfSquares: Double { m2 + Double(count) * mean * mean }
    /// Root mean square, √(E[x²]); nil when empty.
    public var rms: Double? { count > 0 ? (sumOfSquares / Double(count)).squareRoot() : nil }
    /// Skewness g1 = m3/m2^1.5 (population); nil when empty or constant.
    public var skewness: Double? {
        guard count > 0, m2 > 0 else { return nil }
        let n = Double(count)
        return (n.squareRoot() * m3) / (m2 * m2.squareRoot())
    }
    /// Excess kurtosis g2 = n·m4/m2² − 3 (population, Fisher); nil when empty or constant.
    public var kurtosis: Double? {
        guard count > 0, m2 > 0 else { return nil }
        return Double(count) * m4 / (m2 * m2) - 3
    }
}
