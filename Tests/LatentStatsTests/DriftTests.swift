import TestSupport
import Foundation
import Testing
@testable import LatentStats


@Suite struct DriftTestTests {
    /// Two-sided 99.9% t quantiles (standard tables).
    @Test(arguments: [(1, 636.619), (3, 12.924), (10, 4.587), (11, 4.437), (20, 3.850), (30, 3.646), (120, 3.373)])
    func criticalValues(df: Int, want: Double) {
        #expect(abs(DriftTest.critical(df: df) - want) < 0.01 * want)
    }

    static func summary(samples: Int, std: [Double], mean: [Double] = [0, 0], seed: UInt64) throws -> BatchSummary {
        var rng = SplitMix64(seed: seed)
        var x: [Double] = []
        for _ in 0..<samples { for c in 0..<std.count { for _ in 0..<256 { x.append(mean[c] + std[c] * rng.gaussian()) } } }
        return try BatchSummary.of(x, shape: [samples, std.count, 256]).0
    }

    @Test func stdOutsideTheBandOnlyWhenTheIntervalIs() throws {
        let unit = AffineNormalizer(channels: 2, scalingFactor: 1, shiftFactor: 0, range: 1)
        let step = try Self.summary(samples: 64, std: [1.1, 1.1], seed: 1)
        let f = try #require(DriftTest.varianceDrift(step, normalizer: unit, perChannel: false, target: 1, tolerance: 0.05))
        #expect(f.outside && f.lower > 1.05 && abs(f.value - 1.1) < 0.02)
        let still = try Self.summary(samples: 64, std: [1.0, 1.0], seed: 2)
        #expect(try #require(DriftTest.varianceDrift(still, normalizer: unit, perChannel: false, target: 1, tolerance: 0.05)).outside == false)
        // Four samples: the same 10% step is not significant (t with 3 df).
        let few = try Self.summary(samples: 4, std: [1.1, 1.1], seed: 3)
        let g = try #require(DriftTest.varianceDrift(few, normalizer: unit, perChannel: false, target: 1, tolerance: 0.05))
        #expect(!g.outside && g.lower < 1.05)
    }

    @Test func perChannelReportsTheChannelThatMoved() throws {
        let s = try Self.summary(samples: 64, std: [1.0, 1.3], mean: [0, 0.5], seed: 4)
        let n = AffineNormalizer(latentsMean: [0, 0], latentsStd: [1, 1], scalingFactor: 1, range: 1)
        let v = try #require(DriftTest.varianceDrift(s, normalizer: n, perChannel: true, target: 1, tolerance: 0.05))
        #expect(v.outside && v.channel == 1)
        let m = try #require(DriftTest.meanDrift(s, normalizer: n, perChannel: true, baseline: 0, target: 1, tolerance: 0.05))
        #expect(m.outside && m.channel == 1 && abs(m.value - 0.5) < 0.05)
    }

    @Test func verdictPrefersTheNarrowestScopeThatIsOutside() throws {
        let unit = AffineNormalizer(channels: 2, scalingFactor: 1, shiftFactor: 0, range: 1)
        let calm = try Self.summary(samples: 200, std: [1, 1], seed: 5)
        let jump = try Self.summary(samples: 64, std: [1.3, 1.3], seed: 6)
        let v = try #require(DriftTest.varianceVerdict(window: calm, recent: nil, latest: jump, normalizer: unit,
                                                       perChannel: false, target: 1, tolerance: 0.05))
        #expect(v.condition && v.scope == .latest && v.shown.outside)
        #expect(abs(v.windowValue - 1) < 0.03)
        let quiet = try #require(DriftTest.varianceVerdict(window: calm, recent: calm, latest: calm, normalizer: unit,
                                                           perChannel: false, target: 1, tolerance: 0.05))
        #expect(!quiet.condition && quiet.scope == .window)
    }
}
