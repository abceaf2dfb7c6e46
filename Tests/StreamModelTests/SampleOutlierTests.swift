import Foundation
import LatentStats
import Testing
@testable import StreamModel

@Suite struct SampleOutlierTests {
    static let perSample = 4 * 8 * 8
    static let shape = [32, 4, 8, 8]

    /// 10,000 stationary samples at the default outlier_z: none is reported.
    @Test func stationarySamplesAreNotOutliers() throws {
        var g = Gaussian(seed: 99)
        var d = Driver()
        var reported = 0, samples = 0
        while samples < 10_000 {
            let f = try d.push(g.batch(samples: 32, perSample: Self.perSample, mean: 0.1, std: 1.3), shape: Self.shape, tag: nil)
            reported += f.outliers.count
            samples += 32
        }
        print("sample outliers in \(samples) stationary samples at outlier_z \(d.state.config.outlierZ): \(reported)")
        #expect(reported == 0)
        #expect(!d.firing(.sampleOutlier))
        #expect(d.state.buckets.streamOutliers == 0)
    }

    enum Broken: String, CaseIterable { case wideStd, shiftedMean, nan, inf }

    /// Each kind of broken sample is found at its index, and only it.
    @Test(arguments: Broken.allCases)
    func brokenSampleIsFoundAtItsIndex(_ kind: Broken) throws {
        var g = Gaussian(seed: 5)
        var d = Driver()
        for _ in 0..<5 { try d.push(g.batch(samples: 32, perSample: Self.perSample), shape: Self.shape, tag: "x") }
        var v = g.batch(samples: 32, perSample: Self.perSample)
        let index = 19
        let range = (index * Self.perSample)..<((index + 1) * Self.perSample)
        switch kind {
        case .wideStd:
            // 5× the spread about the sample's own mean: the mean stays put.
            let m = v[range].reduce(0, +) / Double(range.count)
            for i in range { v[i] = m + 5 * (v[i] - m) }
        case .shiftedMean: for i in range { v[i] += 3 }
        case .nan: v[range.lowerBound + 7] = .nan
        case .inf: v[range.lowerBound + 100] = -.infinity
        }
        let f = try d.push(v, shape: Self.shape, tag: "x")
        #expect(f.outliers.map(\.index) == [index])
        let o = try #require(f.outliers.first)
        switch kind {
        case .wideStd: #expect(o.reasons == [.stdZ]); #expect((o.z ?? 0) > 8)
        case .shiftedMean: #expect(o.reasons == [.meanZ]); #expect((o.z ?? 0) > 8)
        case .nan: #expect(o.reasons.first == .nonfinite); #expect(o.stat.nan == 1 && o.stat.inf == 0)
        case .inf: #expect(o.reasons.first == .nonfinite); #expect(o.stat.inf == 1 && o.stat.nan == 0)
        }
        #expect(d.state.buckets.buckets["x"]?.outliers == 1)
        #expect(d.state.buckets.streamOutliers == 1)
    }

    @Test func absoluteLimitsReportSamples() throws {
        var config = StreamConfig()
        config.sampleMeanAbsMax = 0.5
        config.sampleStdMax = 2
        var d = Driver(config: config)
        var g = Gaussian(seed: 8)
        var v = g.batch(samples: 4, perSample: 64)
        for i in 64..<128 { v[i] += 0.8 }       // sample 1: mean ≈ 0.8
        for i in 192..<256 { v[i] *= 3 }        // sample 3: std ≈ 3
        let f = try d.push(v, shape: [4, 4, 4, 4], tag: nil)
        #expect(f.outliers.map(\.index) == [1, 3])
        #expect(f.outliers[0].reasons == [.meanAbsMax])
        #expect(f.outliers[1].reasons == [.stdMax])
        #expect(f.outliers[0].z == nil)   // 4 samples: too few for a robust z
    }

    @Test func excludedNonfiniteSamplesLeaveTheStatistics() throws {
        var config = StreamConfig()
        config.excludeNonfiniteSamples = true
        var d = Driver(config: config)
        var g = Gaussian(seed: 11)
        var v = g.batch(samples: 4, perSample: 64)
        v[2 * 64 + 5] = .nan
        let f = try d.push(v, shape: [4, 4, 4, 4], tag: nil)
        #expect(f.outliers.map(\.index) == [2])
        #expect(f.outliers[0].stat.excluded)
        let c = try #require(d.state.cumulative)
        #expect(c.samples == 3 && c.elements == 192 && c.nonfiniteCount == 0)
        let kept = Array(v[0..<128]) + Array(v[192..<256])
        let mean = kept.reduce(0, +) / 192
        #expect(abs(c.total.mean - mean) < 1e-12)
    }

    @Test func flagFiresWhenTheWindowShareExceedsTheLimit() throws {
        var d = Driver()
        var g = Gaussian(seed: 21)
        for _ in 0..<3 {
            var v = g.batch(samples: 32, perSample: Self.perSample)
            v[0] = .nan
            try d.push(v, shape: Self.shape, tag: nil)
        }
        // 3 of 96 samples: 3.1% > 1%.
        #expect(d.firing(.sampleOutlier))
        #expect(d.firing(.nonfinite))
    }

    /// Long windows keep only the newest per-sample values, and a restart
    /// (one restore from the journal's batches) keeps exactly the same.
    @Test func sampleWindowValuesAreCappedTheSameLiveAndRestored() {
        var live = SampleWindow()
        var all: [SampleWindow.Batch] = []
        for i in 0..<400 {
            let n = i % 13 == 0 ? 0 : 1 + i % 40
            let b = SampleWindow.Batch(means: (0..<n).map(Double.init), stds: (0..<n).map { Double($0) + 1 }, samples: n + 1, outliers: i % 2)
            all.append(b)
            live.append(b, keep: 300)
        }
        var restored = SampleWindow()
        restored.restore(all, keep: 300)
        #expect(restored == live)
        #expect(live.batches.count == 300)
        let kept = live.batches.reduce(0) { $0 + $1.means.count }
        #expect(kept <= SampleWindow.valueCap && kept > SampleWindow.valueCap - 41)
        #expect(live.counts(last: 300).samples == all.suffix(300).reduce(0) { $0 + $1.samples })
    }
}
