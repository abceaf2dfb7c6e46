import TestSupport
import Foundation
import Testing
@testable import LatentStats

@Suite struct QuantileTests {
    static let qs = [0.0005, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9995]

    /// numpy's default (`linear`) quantile of sorted values.
    static func numpyQuantile(_ sorted: [Double], _ q: Double) -> Double {
        let h = q * Double(sorted.count - 1)
        let lo = Int(h.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
        return sorted[lo] + (h - Double(lo)) * (sorted[hi] - sorted[lo])
    }

    /// The accuracy contract: relative error ≤ 1%, or the value's rank within 0.001 of q.
    static func check(_ values: [Double], _ sketch: BatchSummary) {
        let sorted = values.sorted()
        let n = Double(sorted.count)
        for q in qs {
            let v = sketch.quantile(q)!
            let exact = numpyQuantile(sorted, q)
            let relative = abs(v - exact) / max(abs(exact), 1e-300)
            // Rank interval of v among the data.
            let below = Double(sorted.partitioningIndex { $0 >= v })
            let atOrBelow = Double(sorted.partitioningIndex { $0 > v })
            let rankError = max(0, below / n - q, q - atOrBelow / n)
            #expect(relative <= 0.01 || rankError <= 0.001, "q=\(q) got \(v) exact \(exact)")
        }
    }

    @Test func normalData() throws {
        var rng = SplitMix64(seed: 3)
        let x = (0..<200_000).map { _ in 0.7 * rng.gaussian() + 0.2 }
        let (s, _) = try BatchSummary.of(x, shape: [100, 4, 500])
        Self.check(x, s)
    }

    @Test func heavyTailedData() throws {
        var rng = SplitMix64(seed: 4)
        // Cauchy: ratio of Gaussians; Student-t(2)-like tails.
        let x = (0..<200_000).map { _ in rng.gaussian() / max(abs(rng.gaussian()), 1e-6) * (rng.uniform() < 0.5 ? -1 : 1) }
        let (s, _) = try BatchSummary.of(x, shape: [100, 2, 1000])
        Self.check(x, s)
    }

    @Test func mergedSketchesKeepTheContract() throws {
        var rng = SplitMix64(seed: 8)
        var all: [Double] = []
        var merged = BatchSummary(channels: 1)
        for part in 0..<5 {
            let x = (0..<20_000).map { _ in exp(rng.gaussian()) * (part % 2 == 0 ? 1 : 3) }
            all += x
            merged.merge(try BatchSummary.of(x, shape: [20, 1, 1000]).0)
        }
        Self.check(all, merged)
    }

    /// With fewer than 1000 values a rank error of 0.001 is under one value, so
    /// only the interpolation between order statistics meets the contract.
    @Test(arguments: [7 as UInt64, 8, 9])
    func smallSamplesInterpolateLikeNumpy(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let x = (0..<720).map { _ in rng.gaussian() * 1.3 - 0.2 }
        let (s, _) = try BatchSummary.of(x, shape: [5, 1, 144])
        Self.check(x, s)
        let sorted = x.sorted()
        for q in Self.qs {
            let exact = Self.numpyQuantile(sorted, q)
            if abs(exact) > 0.05 { #expect(abs(s.quantile(q)! - exact) <= 0.005 * abs(exact), "q=\(q)") }
        }
    }

    @Test func extremesAreExact() throws {
        let x: [Double] = [-3, 1, 2, 5, 11]
        let (s, _) = try BatchSummary.of(x, shape: [5, 1])
        #expect(s.quantile(0) == -3 && s.quantile(1) == 11)
        #expect(s.quantile(0.5)! > 1.99 && s.quantile(0.5)! < 2.01)
    }
}

extension Array where Element == Double {
    /// First index whose element satisfies the (monotone) predicate.
    func partitioningIndex(where p: (Double) -> Bool) -> Int {
        var lo = 0, hi = count
        while lo < hi { let mid = (lo + hi) / 2; if p(self[mid]) { hi = mid } else { lo = mid + 1 } }
        return lo
    }
}

@Suite struct SketchMergeTests {
    @Test func manyAtOnceEqualsOneByOne() throws {
        var rng = SplitMix64(seed: 12)
        var summaries: [BatchSummary] = []
        for part in 0..<12 {
            let x = (0..<600).map { _ in rng.gaussian() * Double(1 + part % 3) + (part == 5 ? 40 : 0) }
            summaries.append(try BatchSummary.of(x, shape: [6, 2, 50]).0)
        }
        var folded = BatchSummary(channels: 2)
        for s in summaries { folded.merge(s) }
        #expect(BatchSummary.merged(summaries, channels: 2) == folded)
        #expect(BatchSummary.merged([BatchSummary](), channels: 2) == BatchSummary(channels: 2))
    }
}
