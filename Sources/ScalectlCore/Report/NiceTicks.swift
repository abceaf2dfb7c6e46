import Foundation

/// Axis ticks at "nice numbers" (1, 2 or 5 times a power of ten), after
/// Heckbert, "Nice numbers for graph labels" (Graphics Gems, 1990): the axis
/// is widened outwards to whole steps so that its ends are labelled too.
public struct NiceTicks: Equatable, Sendable {
    /// The first tick, at or below the data's minimum.
    public var lo: Double
    /// The last tick, at or above the data's maximum.
    public var hi: Double
    /// The distance between ticks.
    public var step: Double

    /// Ticks for data in `min...max`, about `count` of them (at least 2).
    /// A degenerate range (`min == max`) is widened around its value.
    public init(min: Double, max: Double, count: Int = 5) {
        var a = Swift.min(min, max), b = Swift.max(min, max)
        if !a.isFinite || !b.isFinite { a = 0; b = 1 }
        if a == b {
            let pad = a == 0 ? 1 : abs(a) * 0.1
            a -= pad
            b += pad
        }
        let range = Self.niceNumber(b - a, round: false)
        let step = Self.niceNumber(range / Double(Swift.max(count, 2) - 1), round: true)
        self.step = step
        // Whole multiples of the step, computed from integers so that 0.1 + 0.2 never shows.
        lo = Self.multiple((a / step).rounded(.down), of: step)
        hi = Self.multiple((b / step).rounded(.up), of: step)
        if lo == hi { hi = Self.multiple((b / step).rounded(.up) + 1, of: step) }
    }

    /// k × step, computed as k / (1/step) for steps below 1 so that 3 × 0.2
    /// comes out as 0.6, not 0.6000000000000001.
    static func multiple(_ k: Double, of step: Double) -> Double {
        if step < 1 {
            let inverse = (1 / step).rounded()
            if abs(inverse * step - 1) < 1e-12 { return k / inverse }
        }
        return k * step
    }

    /// The tick values from `lo` to `hi`.
    public var values: [Double] {
        let first = (lo / step).rounded(), last = (hi / step).rounded()
        guard last >= first, last - first <= 1000 else { return [lo, hi] }
        return stride(from: first, through: last, by: 1).map { k in
            let v = Self.multiple(k, of: step)
            return abs(v) < step * 1e-9 ? 0 : v
        }
    }

    /// A nice number near `x` (> 0): the closest of 1, 2, 5, 10 times a
    /// power of ten when `round`, else the smallest such number ≥ `x`.
    public static func niceNumber(_ x: Double, round: Bool) -> Double {
        guard x > 0, x.isFinite else { return 1 }
        let exponent = Foundation.floor(Foundation.log10(x))
        let power = Foundation.pow(10, exponent)
        let fraction = x / power
        let nice: Double
        if round {
            nice = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10
        } else {
            nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10
        }
        return nice * power
    }

    /// A tick label with as many decimals as the step needs (`0.25` steps
    /// give `0.25`, `0.50`; `0.2` steps give `0.2`), in exponent form for
    /// very small or very large magnitudes.
    public func label(_ value: Double) -> String {
        if value == 0 { return "0" }
        let magnitude = Swift.max(abs(lo), abs(hi))
        if magnitude >= 1e6 || magnitude < 1e-4 {
            let digits = Swift.max(0, Int(Foundation.floor(Foundation.log10(magnitude))) - Int(Foundation.floor(Foundation.log10(step))))
            return String(format: "%.\(Swift.min(digits, 6))e", value)
        }
        return String(format: "%.\(decimals)f", value)
    }

    /// Decimals needed to tell the ticks apart.
    public var decimals: Int {
        var d = Swift.max(0, -Int(Foundation.floor(Foundation.log10(step) + 1e-9)))
        // A step of 0.25 or 2.5 needs one decimal more than its power of ten.
        let scaled = step * Foundation.pow(10, Double(d))
        if abs(scaled - scaled.rounded()) > 1e-6 { d += 1 }
        return Swift.min(d, 12)
    }
}

/// A linear map from data values (`domain`) to pixels (`range`); `range`
/// may run backwards, as a y axis does.
public struct LinearScale: Equatable, Sendable {
    /// The data interval.
    public var domain: (lo: Double, hi: Double)
    /// The pixels `domain.lo` and `domain.hi` map to.
    public var range: (from: Double, to: Double)

    public init(domain: (Double, Double), range: (Double, Double)) {
        self.domain = (domain.0, domain.1)
        self.range = (range.0, range.1)
    }

    public static func == (a: LinearScale, b: LinearScale) -> Bool {
        a.domain == b.domain && a.range == b.range
    }

    /// The pixel of `value`.
    public func callAsFunction(_ value: Double) -> Double {
        let span = domain.hi - domain.lo
        guard span != 0 else { return (range.from + range.to) / 2 }
        return range.from + (value - domain.lo) / span * (range.to - range.from)
    }

    /// The value at pixel `pixel` (the inverse map).
    public func invert(_ pixel: Double) -> Double {
        let span = range.to - range.from
        guard span != 0 else { return domain.lo }
        return domain.lo + (pixel - range.from) / span * (domain.hi - domain.lo)
    }
}
