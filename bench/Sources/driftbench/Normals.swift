import BenchSupport
import Foundation

/// xoshiro256+ seeded through SplitMix64: fast and good enough for floats.
struct Xoshiro256 {
    var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64
    init(seed: UInt64) {
        var z = SplitMix64(state: seed)
        s0 = z.next(); s1 = z.next(); s2 = z.next(); s3 = z.next()
    }
    @inline(__always) mutating func next() -> UInt64 {
        let result = s0 &+ s3
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }
    /// A uniform in (0, 1).
    @inline(__always) mutating func uniform() -> Float { Float((next() >> 40) + 1) * 0x1p-24 * (1 - 0x1p-25) }
}

/// Standard normals by Marsaglia & Tsang's ziggurat (J. Stat. Softw. 5(8),
/// 2000), 128 layers. Each draw takes 32 random bits: the low 7 pick the
/// layer and the other 25 are a signed value, so layer and value use
/// different bits (Doornik 2005). About 98.8% of draws take the fast path:
/// one compare and one multiply.
struct Normals {
    static let r: Float = 3.442619855899
    var rng: Xoshiro256
    let k: [UInt32], w: [Float], f: [Float]

    init(seed: UInt64) {
        rng = Xoshiro256(seed: seed)
        let m = 16_777_216.0  // 2^24: |value| < 2^24
        var k = [UInt32](repeating: 0, count: 128), w = [Float](repeating: 0, count: 128), f = [Float](repeating: 0, count: 128)
        var dn = 3.442619855899, tn = dn
        let vn = 9.91256303526217e-3
        let q = vn / exp(-0.5 * dn * dn)
        k[0] = UInt32(dn / q * m); k[1] = 0
        w[0] = Float(q / m); w[127] = Float(dn / m)
        f[0] = 1; f[127] = Float(exp(-0.5 * dn * dn))
        for i in stride(from: 126, through: 1, by: -1) {
            dn = (-2 * log(vn / dn + exp(-0.5 * dn * dn))).squareRoot()
            k[i + 1] = UInt32(dn / tn * m)
            tn = dn
            f[i] = Float(exp(-0.5 * dn * dn))
            w[i] = Float(dn / m)
        }
        self.k = k; self.w = w; self.f = f
    }

    /// Two independent standard normals from one 64-bit draw.
    @inline(__always) mutating func pair() -> (Float, Float) {
        let r = rng.next()
        return (normal(UInt32(truncatingIfNeeded: r)), normal(UInt32(truncatingIfNeeded: r >> 32)))
    }

    @inline(__always) mutating func normal(_ bits: UInt32) -> Float {
        let i = Int(bits & 127)
        let hz = Int32(bitPattern: bits) >> 7          // signed, |hz| ≤ 2^24
        if hz.magnitude < k[i] { return Float(hz) * w[i] }
        return slow(hz, i)
    }

    mutating func slow(_ hz0: Int32, _ i0: Int) -> Float {
        var hz = hz0, i = i0
        while true {
            let x = Float(hz) * w[i]
            if i == 0 {   // the tail beyond r
                var xt: Float, y: Float
                repeat {
                    xt = -Foundation.log(rng.uniform()) / Self.r
                    y = -Foundation.log(rng.uniform())
                } while y + y < xt * xt
                return hz > 0 ? Self.r + xt : -Self.r - xt
            }
            if f[i] + rng.uniform() * (f[i - 1] - f[i]) < Foundation.exp(-0.5 * x * x) { return x }
            let bits = UInt32(truncatingIfNeeded: rng.next() >> 32)
            i = Int(bits & 127)
            hz = Int32(bitPattern: bits) >> 7
            if hz.magnitude < k[i] { return Float(hz) * w[i] }
        }
    }
}
