import Foundation

/// SplitMix64 (Steele, Lea & Flood 2014): the benchmarks' seedable generator,
/// and the seeder of driftbench's xoshiro256+.
public struct SplitMix64: Sendable {
    public var state: UInt64

    public init(state: UInt64) { self.state = state }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform in (0, 1).
    public mutating func uniform() -> Double { (Double(next() >> 11) + 0.5) / Double(1 << 53) }

    /// Two independent standard normals (Box–Muller).
    public mutating func gaussians() -> (Double, Double) {
        let r = (-2 * Foundation.log(uniform())).squareRoot(), t = 2 * Double.pi * uniform()
        return (r * Foundation.cos(t), r * Foundation.sin(t))
    }
}
