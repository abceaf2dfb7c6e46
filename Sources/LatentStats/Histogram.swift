/// A histogram over equal-width bins, apportioned from a ``QuantileSketch``.
///
/// Each sketch bucket's count is exact. A bucket that lies inside one bin adds
/// its whole count there; a bucket that straddles bin edges is split among
/// them in proportion to the overlap (values taken as uniform within the
/// bucket, whose relative width is at most 2⁻⁷). So a bin's count differs from
/// the exact count of its values by at most the counts of the two sketch
/// buckets that straddle its edges, and `counts`, `below` and `above` add up
/// exactly to the sketch's count.
public struct Histogram: Sendable, Equatable {
    /// `bins + 1` ascending edges from `lo` to `hi`.
    public var edges: [Double]
    /// Values per bin (apportioned, so not always whole numbers).
    public var counts: [Double]
    /// Values below the first edge, and at or above the last one.
    public var below: Double, above: Double

    /// Histograms `sketch` mapped through `x ↦ (x − shift) · scale` (the
    /// identity by default) onto `bins` bins over `[lo, hi)`; values equal
    /// to `hi` count in the last bin. `within`, the exact extremes of the raw
    /// values when known, trims the outermost buckets to where values can be.
    public init(_ sketch: QuantileSketch, lo: Double, hi: Double, bins: Int, shift: Double = 0, scale: Double = 1,
                within: (min: Double, max: Double)? = nil) {
        precondition(bins >= 1 && lo < hi && scale != 0)
        let width = (hi - lo) / Double(bins)
        edges = (0...bins).map { lo + Double($0) * width }
        edges[bins] = hi
        counts = [Double](repeating: 0, count: bins)
        below = 0; above = 0
        for (key, c) in zip(sketch.keys, sketch.counts) {
            var (rawLo, rawHi) = QuantileSketch.range(ofKey: key)
            if let within { rawLo = Swift.max(rawLo, within.min); rawHi = Swift.min(rawHi, within.max) }
            if rawHi < rawLo { rawHi = rawLo }
            var a = (rawLo - shift) * scale, b = (rawHi - shift) * scale
            if a > b { swap(&a, &b) }
            add(Double(c), from: a, to: b, lo: lo, hi: hi, width: width)
        }
    }

    private mutating func add(_ c: Double, from a: Double, to b: Double, lo: Double, hi: Double, width: Double) {
        let bins = counts.count
        if b <= a {   // a point (the zero bucket): it lies in one place
            if a < lo { below += c } else if a > hi { above += c } else { counts[Swift.min(Int((a - lo) / width), bins - 1)] += c }
            return
        }
        let span = b - a
        if a < lo { below += c * (Swift.min(b, lo) - a) / span }
        if b > hi { above += c * (b - Swift.max(a, hi)) / span }
        let from = Swift.max(a, lo), to = Swift.min(b, hi)
        guard from < to else { return }
        var i = Swift.min(Int((from - lo) / width), bins - 1)
        while i < bins {
            let l = edges[i], r = edges[i + 1]
            let overlap = Swift.min(to, r) - Swift.max(from, l)
            if overlap > 0 { counts[i] += c * overlap / span }
            if r >= to { break }
            i += 1
        }
    }
}

extension QuantileSketch {
    /// The range of values a bucket holds, `[lo, hi]` (for a negative bucket
    /// `[-hi_mag, -lo_mag]`); the zero bucket (zero and subnormals) is `[0, 0]`.
    public static func range(ofKey key: UInt16) -> (lo: Double, hi: Double) {
        let negative = key < 0x8000
        let magnitudeIndex = negative ? UInt32(0x7FFF - Int(key)) : UInt32(key - 0x8000)
        if magnitudeIndex < 0x0080 { return (0, 0) }
        let lo = Double(Float(bitPattern: magnitudeIndex << 16))
        let hiBits = (magnitudeIndex + 1) << 16
        let hi = hiBits >= 0x7F80_0000 ? lo * (1 + 1.0 / 128) : Double(Float(bitPattern: hiBits))
        return negative ? (-hi, -lo) : (lo, hi)
    }
}
