import TestSupport
import Foundation
import Testing
@testable import LatentStats

@Suite struct SummaryTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let shape: [Int]; let axis: Int; let offset: Double
        var testDescription: String { "\(shape) axis \(axis) offset \(offset)" }
    }

    static let cases: [Case] = [
        Case(shape: [8, 4, 16, 16], axis: 1, offset: 0),
        Case(shape: [8, 4, 16, 16], axis: 1, offset: 1e4),   // cancellation
        Case(shape: [6, 1, 12, 12], axis: 1, offset: -3),    // one channel
        Case(shape: [4, 16, 8, 8], axis: 1, offset: 0.5),    // sixteen channels
        Case(shape: [5, 9, 7, 4], axis: -1, offset: 1e4),    // channels last
        Case(shape: [3, 2, 5, 3, 4], axis: 2, offset: 0),    // channel axis in the middle
        Case(shape: [10, 3], axis: 1, offset: 0),            // 2-D
    ]

    @Test(arguments: cases)
    func momentsAndCovarianceMatchTwoPassFloat64(c: Case) throws {
        let axis = c.axis < 0 ? c.axis + c.shape.count : c.axis
        let x = Oracle.latents(shape: c.shape, axis: axis, offset: c.offset, seed: 42)
        let (s, _) = try BatchSummary.of(x, shape: c.shape, channelAxis: c.axis)
        #expect(s.total.count == x.count)
        #expect(Oracle.relErr(s.total.mean, Oracle.mean(x)) < 1e-9)
        #expect(Oracle.relErr(s.total.std!, Oracle.variance(x).squareRoot()) < 1e-9)
        #expect(Oracle.relErr(s.total.rms!, (x.map { $0 * $0 }.reduce(0, +) / Double(x.count)).squareRoot()) < 1e-9)
        let sd = Oracle.variance(x).squareRoot()
        #expect(abs(s.total.skewness! - Oracle.centralMoment(x, 3) / pow(sd, 3)) < 1e-7)
        #expect(abs(s.total.kurtosis! - (Oracle.centralMoment(x, 4) / pow(sd, 4) - 3)) < 1e-7)
        #expect(s.total.min == x.min()! && s.total.max == x.max()!)

        let perChannel = Oracle.channelValues(x, shape: c.shape, axis: axis)
        #expect(s.perChannel.count == perChannel.count)
        for (m, v) in zip(s.perChannel, perChannel) {
            #expect(m.count == v.count)
            #expect(Oracle.relErr(m.mean, Oracle.mean(v)) < 1e-9)
            #expect(Oracle.relErr(m.std!, Oracle.variance(v).squareRoot()) < 1e-9)
            #expect(m.min == v.min()! && m.max == v.max()!)
        }
        let cov = Oracle.covariance(x, shape: c.shape, axis: axis)
        let got = s.covariance.covariance!
        let C = s.channels
        for a in 0..<C {
            for b in 0..<C {
                let scale = (cov[a][a] * cov[b][b]).squareRoot()
                #expect(abs(got[a * C + b] - cov[a][b]) / scale < 1e-9, "cov[\(a)][\(b)]")
            }
        }
    }

    @Test func nonFiniteValuesAreCountedAndExcluded() throws {
        let shape = [4, 3, 6, 6]
        var x = Oracle.latents(shape: shape, seed: 7)
        var rng = SplitMix64(seed: 99)
        var nan = 0, pinf = 0, ninf = 0
        for _ in 0..<40 {
            let i = Int(rng.next() % UInt64(x.count))
            guard x[i].isFinite else { continue }
            switch rng.next() % 3 {
            case 0: x[i] = .nan; nan += 1
            case 1: x[i] = .infinity; pinf += 1
            default: x[i] = -.infinity; ninf += 1
            }
        }
        let (s, _) = try BatchSummary.of(x, shape: shape)
        #expect(s.nanCount == nan && s.posInfCount == pinf && s.negInfCount == ninf)
        let finite = x.filter(\.isFinite)
        #expect(s.total.count == finite.count)
        #expect(s.elements == x.count)
        #expect(Oracle.relErr(s.total.mean, Oracle.mean(finite)) < 1e-9)
        #expect(Oracle.relErr(s.total.std!, Oracle.variance(finite).squareRoot()) < 1e-9)
        for (m, v) in zip(s.perChannel, Oracle.channelValues(x, shape: shape, axis: 1)) {
            #expect(m.count == v.count)
            #expect(Oracle.relErr(m.std!, Oracle.variance(v).squareRoot()) < 1e-9)
        }
        let cov = Oracle.covariance(x, shape: shape, axis: 1)
        let got = s.covariance.covariance!
        for a in 0..<3 { for b in 0..<3 {
            #expect(abs(got[a * 3 + b] - cov[a][b]) / (cov[a][a] * cov[b][b]).squareRoot() < 1e-9)
        } }
        #expect(s.sketch.count == UInt64(finite.count))
    }

    @Test func allNonFiniteSampleLeavesMomentsEmpty() throws {
        let x = [Double](repeating: .nan, count: 2 * 3 * 4)
        let (s, _) = try BatchSummary.of(x, shape: [2, 3, 4])
        #expect(s.nanCount == 24 && s.total.count == 0 && s.covariance.count == 0)
        #expect(throws: NormalizationError.noData) { try s.normalization(mode: .scalar) }
    }

    @Test(arguments: [1 as UInt64, 2, 3, 4, 5])
    func mergeOfRandomSplitsEqualsTheWhole(seed: UInt64) throws {
        let shape = [24, 4, 10, 10]
        let x = Oracle.latents(shape: shape, offset: 1e4, seed: seed)
        let (whole, _) = try BatchSummary.of(x, shape: shape)
        // Random cut points along the sample axis.
        var rng = SplitMix64(seed: seed &* 7919)
        var cuts = Set<Int>()
        while cuts.count < 4 { cuts.insert(1 + Int(rng.next() % 23)) }
        let bounds = [0] + cuts.sorted() + [24]
        let per = 4 * 10 * 10
        var parts: [BatchSummary] = []
        for (a, b) in zip(bounds, bounds.dropFirst()) {
            let (p, _) = try BatchSummary.of(Array(x[(a * per)..<(b * per)]), shape: [b - a, 4, 10, 10])
            parts.append(p)
        }
        // Left fold and a shuffled, tree-shaped merge must both equal the whole.
        var left = BatchSummary(channels: 4)
        for p in parts { left.merge(p) }
        let tree = parts[0].merging(parts[1]).merging(parts[2].merging(parts[3].merging(parts[4])))
        for merged in [left, tree] {
            #expect(merged.samples == whole.samples && merged.elements == whole.elements)
            #expect(merged.total.count == whole.total.count)
            #expect(Oracle.relErr(merged.total.mean, whole.total.mean) < 1e-12)
            #expect(Oracle.relErr(merged.total.m2, whole.total.m2) < 1e-9)
            #expect(abs(merged.total.m3 - whole.total.m3) < 1e-7 * whole.total.m2 * whole.total.std!)
            #expect(Oracle.relErr(merged.total.m4, whole.total.m4) < 1e-9)
            for c in 0..<4 {
                #expect(Oracle.relErr(merged.perChannel[c].m2, whole.perChannel[c].m2) < 1e-9)
            }
            for (a, b) in zip(merged.covariance.comoment, whole.covariance.comoment) {
                #expect(abs(a - b) < 1e-9 * whole.total.m2)
            }
            #expect(merged.sketch == whole.sketch)
            #expect(merged.sampleSpread.samples == 24)
            #expect(Oracle.relErr(merged.sampleSpread.variances.mean, whole.sampleSpread.variances.mean) < 1e-12)
        }
        // Batches count merges, so they differ from one big push by design.
        #expect(left.batches == 5 && whole.batches == 1)
    }

    @Test func mergeWithEmptyIsIdentity() throws {
        let (s, _) = try BatchSummary.of(Oracle.latents(shape: [3, 2, 4], seed: 1), shape: [3, 2, 4])
        #expect(s.merging(BatchSummary(channels: 2)) == s)
        #expect(BatchSummary(channels: 2).merging(s) == s)
    }

    @Test func perSampleSpreadMatchesPlainComputation() throws {
        let shape = [7, 2, 5, 5]
        let x = Oracle.latents(shape: shape, seed: 11)
        let (s, _) = try BatchSummary.of(x, shape: shape)
        let per = 50
        let variances = (0..<7).map { Oracle.variance(Array(x[($0 * per)..<(($0 + 1) * per)])) }
        #expect(s.sampleSpread.samples == 7)
        #expect(Oracle.relErr(s.sampleSpread.variances.mean, Oracle.mean(variances)) < 1e-10)
        #expect(Oracle.relErr(s.sampleSpread.variances.variance!, Oracle.variance(variances)) < 1e-8)
    }

    @Test func clampCountIsExactForScalarAndChannelReferences() throws {
        let shape = [6, 3, 8, 8]
        let x = Oracle.latents(shape: shape, offset: 0.3, scale: 1.2, seed: 5)
        let scalar = AffineNormalizer(channels: 3, scalingFactor: 0.9, shiftFactor: 0.3, range: 1.0)
        let (_, c1) = try BatchSummary.of(x, shape: shape, normalizer: scalar)
        let want1 = x.filter { abs(($0 - 0.3) * 0.9) > 1.0 }.count
        #expect(c1!.outside == want1 && c1!.elements == x.count)

        let mean = [0.3, 0.4, 0.5], std = [1.2, 1.26, 1.32]
        let perChannel = AffineNormalizer(latentsMean: mean, latentsStd: std, scalingFactor: 0.5, range: 0.7)
        let (_, c2) = try BatchSummary.of(x, shape: shape, normalizer: perChannel)
        let st = Oracle.strides(shape)
        var want2 = 0
        var absValues: [Double] = []
        for (i, v) in x.enumerated() {
            let c = (i / st[1]) % 3
            let y = abs((v - mean[c]) * 0.5 / std[c])
            absValues.append(y)
            if y > 0.7 { want2 += 1 }
        }
        #expect(c2!.outside == want2)
        // The recommended range keeps the share under the limit, per the exact quantile.
        let sorted = absValues.sorted()
        let exact = sorted[Int((0.99 * Double(sorted.count - 1)).rounded())]
        #expect(Oracle.relErr(c2!.recommendedRange(maxFraction: 0.01)!, exact) < 0.005)
    }
}
