import Foundation
@testable import LatentStats
import TestSupport

/// Plain float64 reference computations, written independently of the kernel:
/// explicit multi-index iteration and textbook two-pass formulas.
enum Oracle {
    /// Strides of a C-contiguous shape.
    static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        for i in stride(from: shape.count - 2, through: 0, by: -1) { s[i] = s[i + 1] * shape[i + 1] }
        return s
    }

    /// Values of each channel (finite only).
    static func channelValues(_ x: [Double], shape: [Int], axis: Int) -> [[Double]] {
        let st = strides(shape)
        var out = [[Double]](repeating: [], count: shape[axis])
        for (i, v) in x.enumerated() where v.isFinite { out[(i / st[axis]) % shape[axis]].append(v) }
        return out
    }

    static func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(v.count) }
    static func variance(_ v: [Double]) -> Double {
        let m = mean(v); return v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count)
    }
    static func centralMoment(_ v: [Double], _ k: Double) -> Double {
        let m = mean(v); return v.map { pow($0 - m, k) }.reduce(0, +) / Double(v.count)
    }

    /// Population covariance of channels, positions as observations, skipping
    /// positions with any non-finite channel.
    static func covariance(_ x: [Double], shape: [Int], axis: Int) -> [[Double]] {
        let st = strides(shape)
        let C = shape[axis]
        var rows: [[Double]] = []
        // Enumerate positions: every index with the channel coordinate 0.
        for i in 0..<x.count where (i / st[axis]) % C == 0 {
            let row = (0..<C).map { x[i + $0 * st[axis]] }
            if row.allSatisfy(\.isFinite) { rows.append(row) }
        }
        let n = Double(rows.count)
        let means = (0..<C).map { c in rows.map { $0[c] }.reduce(0, +) / n }
        var cov = [[Double]](repeating: [Double](repeating: 0, count: C), count: C)
        for r in rows { for a in 0..<C { for b in 0..<C { cov[a][b] += (r[a] - means[a]) * (r[b] - means[b]) } } }
        return cov.map { $0.map { $0 / n } }
    }

    /// Random latents: channel c has mean offset + c·0.1 and std scale·(1 + c·0.05),
    /// with a correlation between neighbouring channels.
    static func latents(shape: [Int], axis: Int = 1, offset: Double = 0, scale: Double = 1, seed: UInt64) -> [Double] {
        var rng = SplitMix64(seed: seed)
        let st = strides(shape)
        let C = shape[axis]
        var x = [Double](repeating: 0, count: shape.reduce(1, *))
        var previous = 0.0
        for i in 0..<x.count {
            let c = (i / st[axis]) % C
            let g = rng.gaussian()
            let v = 0.6 * g + 0.4 * previous
            previous = g
            x[i] = offset + Double(c) * 0.1 + scale * (1 + Double(c) * 0.05) * v
        }
        return x
    }

    static func relErr(_ a: Double, _ b: Double) -> Double {
        a == b ? 0 : abs(a - b) / max(abs(b), 1e-300)
    }
}
