import Foundation
/// A per-channel affine map y = (z − shift[c]) · scale[c]: the normalization a
/// training job applies, in diffusers' semantics, reduced to one form.
public struct AffineNormalizer: Sendable, Equatable {
    public var shift: [Double]
    public var scale: [Double]
    /// The clamp range (diffusers' `clip_sample_range`) counted against.
    public var range: Double

    public init(shift: [Double], scale: [Double], range: Double) {
        precondition(shift.count == scale.count)
        self.shift = shift; self.scale = scale; self.range = range
    }

    /// Scalar reference: (z − shift_factor) · scaling_factor.
    public init(channels: Int, scalingFactor: Double, shiftFactor: Double, range: Double) {
        self.init(shift: Array(repeating: shiftFactor, count: channels),
                  scale: Array(repeating: scalingFactor, count: channels), range: range)
    }

    /// Per-channel reference: (z − latents_mean) · scaling_factor / latents_std.
    public init(latentsMean: [Double], latentsStd: [Double], scalingFactor: Double, range: Double) {
        self.init(shift: latentsMean, scale: latentsStd.map { scalingFactor / $0 }, range: range)
    }

    public var channels: Int { shift.count }
}

/// Normalized values of a batch under one ``AffineNormalizer``: how many fall
/// outside ±range (counted exactly) and a sketch of |y| for recommending a range.
public struct ClampCount: Sendable, Equatable {
    public var range: Double
    /// Finite elements counted.
    public var elements: Int
    /// Finite elements with |y| > range.
    public var outside: Int
    /// Sketch of |y| over finite elements.
    public var absSketch: QuantileSketch

    public init(range: Double, elements: Int = 0, outside: Int = 0, absSketch: QuantileSketch = .init()) {
        self.range = range; self.elements = elements; self.outside = outside; self.absSketch = absSketch
    }

    /// The share of finite elements outside ±range; nil when empty.
    public var fraction: Double? { elements > 0 ? Double(outside) / Double(elements) : nil }

    /// Merges counts taken under the same normalizer.
    public mutating func merge(_ other: ClampCount) {
        elements += other.elements
        outside += other.outside
        absSketch.merge(other.absSketch)
    }

    /// A range that keeps the share of |y| beyond it at or under
    /// `maxFraction` for the values counted, guaranteed, not just estimated.
    ///
    /// At most k = ⌊maxFraction·n⌋ of the n values may lie beyond the range,
    /// so the range must reach the order statistic of rank n−k−1 (0-based).
    /// The sketch knows that value only to its bucket (2⁻⁷ relative width),
    /// so the range is the bucket's upper edge (every value in the bucket is
    /// below it), rounded up to 3 significant digits. It exceeds the exact
    /// quantile by at most about 0.8% + 0.5%.
    public func recommendedRange(maxFraction: Double) -> Double? {
        guard elements > 0 else { return nil }
        let n = absSketch.count
        guard n > 0 else { return nil }
        let allowed = UInt64(Swift.max(0, (maxFraction * Double(n)).rounded(.down)))
        guard allowed < n, let edge = absSketch.upperEdge(atRank: n - allowed - 1) else { return 0 }
        return Self.roundUp(edge, significantDigits: 3)
    }

    /// The smallest number of `significantDigits` significant digits that is ≥ `x`.
    public static func roundUp(_ x: Double, significantDigits digits: Int) -> Double {
        guard x > 0, x.isFinite else { return x }
        let exponent = (log10(x)).rounded(.down) - Double(digits - 1)
        let unit = pow(10, exponent)
        var steps = (x / unit).rounded(.up)
        // x / unit can round to just below an integer; never come out under x.
        while steps * unit < x { steps += 1 }
        // Nor a whole step over (x itself at a power of ten).
        while steps > 1, (steps - 1) * unit >= x { steps -= 1 }
        return steps * unit
    }
}

extension QuantileSketch {
    /// The upper edge of the bucket holding the order statistic of rank `k`
    /// (0-based): every value in that bucket is below it (or, for the zero
    /// bucket, at most the smallest normal Float).
    public func upperEdge(atRank k: UInt64) -> Double? {
        var seen: UInt64 = 0
        for (key, c) in zip(keys, counts) {
            seen += c
            if seen > k {
                let hi = Self.range(ofKey: key).hi
                return hi == 0 ? Double(Float.leastNormalMagnitude) : hi
            }
        }
        return keys.last.map { Self.range(ofKey: $0).hi }
    }
}
