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

    /// The smallest range that keeps the share of |y| beyond it at or under
    /// `maxFraction`, from the sketch (within 0.4% of the exact quantile).
    public func recommendedRange(maxFraction: Double) -> Double? {
        guard elements > 0 else { return nil }
        return absSketch.quantile(1 - maxFraction)
    }
}
