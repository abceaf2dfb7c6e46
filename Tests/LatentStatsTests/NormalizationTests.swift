import TestSupport
import Foundation
import Testing
@testable import LatentStats

@Suite struct NormalizationTests {
    @Test func modesAndKeys() throws {
        let shape = [16, 4, 8, 8]
        let x = Oracle.latents(shape: shape, offset: 0.2, scale: 2.5, seed: 21)
        let (s, _) = try BatchSummary.of(x, shape: shape)
        let sd = Oracle.variance(x).squareRoot()
        let rms = (x.map { $0 * $0 }.reduce(0, +) / Double(x.count)).squareRoot()

        let scalar = try s.normalization(mode: .scalar)
        #expect(Oracle.relErr(scalar.scalingFactor, 1 / sd) < 1e-9)
        #expect(scalar.diffusersKeys.map(\.key) == ["scaling_factor"])

        let edm = try s.normalization(mode: .scalar, targetStd: 0.5)
        #expect(Oracle.relErr(edm.scalingFactor, 0.5 / sd) < 1e-9)

        let dcae = try s.normalization(mode: .scalar, method: .rms)
        #expect(Oracle.relErr(dcae.scalingFactor, 1 / rms) < 1e-9)

        let shift = try s.normalization(mode: .shift)
        #expect(Oracle.relErr(shift.shiftFactor!, Oracle.mean(x)) < 1e-9)
        #expect(shift.diffusersKeys.map(\.key) == ["scaling_factor", "shift_factor"])

        let channel = try s.normalization(mode: .channel)
        let perChannel = Oracle.channelValues(x, shape: shape, axis: 1)
        for c in 0..<4 {
            #expect(Oracle.relErr(channel.latentsMean![c], Oracle.mean(perChannel[c])) < 1e-9)
            #expect(Oracle.relErr(channel.latentsStd![c], Oracle.variance(perChannel[c]).squareRoot()) < 1e-9)
        }
        #expect(channel.scalingFactor == 1)
        #expect(channel.diffusersKeys.map(\.key) == ["scaling_factor", "latents_mean", "latents_std"])
        #expect(channel.latentsStdCI95!.count == 4)
        // The interval brackets scaling_factor with the least certain channel's relative width.
        let ci = channel.scalingFactorCI95!
        #expect(ci[0] < channel.scalingFactor && channel.scalingFactor < ci[1])
        let widest = channel.latentsStdCI95!.map { ($0[1] - $0[0]) / ($0[1] + $0[0]) }.max()!
        #expect(abs((ci[1] - ci[0]) / (ci[1] + ci[0]) - widest) < 1e-12)

        #expect(throws: NormalizationError.rmsNotDefinedForWhiten) { try s.normalization(mode: .whiten, method: .rms) }
    }

    @Test func whiteningMatrixWhitens() throws {
        let shape = [8, 16, 12, 12]
        let x = Oracle.latents(shape: shape, seed: 31)
        let (s, _) = try BatchSummary.of(x, shape: shape)
        let n = try s.normalization(mode: .whiten)
        let W = n.whiteningMatrix!
        let cov = Oracle.covariance(x, shape: shape, axis: 1)
        let C = 16
        // W·Σ·W ≈ I with Σ from the independent oracle.
        var maxError = 0.0
        for i in 0..<C {
            for j in 0..<C {
                var v = 0.0
                for a in 0..<C { for b in 0..<C { v += W[i][a] * cov[a][b] * W[b][j] } }
                maxError = max(maxError, abs(v - (i == j ? 1 : 0)))
            }
        }
        #expect(maxError < 1e-9)
        // ZCA: symmetric.
        for i in 0..<C { for j in 0..<C { #expect(abs(W[i][j] - W[j][i]) < 1e-12) } }
    }

    @Test func singularCovarianceIsAnError() throws {
        // Channel 1 is an exact copy of channel 0.
        var x: [Double] = []
        var rng = SplitMix64(seed: 2)
        for _ in 0..<10 { let v = (0..<9).map { _ in rng.gaussian() }; x += v; x += v }
        let (s, _) = try BatchSummary.of(x, shape: [10, 2, 9])
        #expect(throws: NormalizationError.self) { try s.normalization(mode: .whiten) }
        #expect(throws: NormalizationError.zeroSpread(channel: nil)) {
            try BatchSummary.of([Double](repeating: 2, count: 8), shape: [2, 4]).0.normalization(mode: .scalar)
        }
    }

    /// i.i.d. Gaussian latents with known σ: the interval covers 1/σ about 95% of
    /// the time, and quadrupling the samples halves its width.
    @Test func confidenceIntervalCoversAndNarrows() throws {
        let sigma = 0.8
        var covered = 0
        let trials = 200
        var widths: [Int: [Double]] = [:]
        for t in 0..<trials {
            var rng = SplitMix64(seed: 1000 + UInt64(t))
            for samples in [16, 64] where samples == 16 || t < 40 {
                let x = (0..<(samples * 4 * 64)).map { _ in sigma * rng.gaussian() + 0.1 }
                let n = try BatchSummary.of(x, shape: [samples, 4, 64]).0.normalization(mode: .scalar)
                let ci = n.scalingFactorCI95!
                if samples == 16, ci[0] <= 1 / sigma, 1 / sigma <= ci[1] { covered += 1 }
                widths[samples, default: []].append(ci[1] - ci[0])
            }
        }
        let coverage = Double(covered) / Double(trials)
        #expect(coverage >= 0.90 && coverage <= 0.99, "coverage \(coverage)")
        let ratio = Oracle.mean(widths[64]!) / Oracle.mean(widths[16]!)
        #expect(ratio > 0.4 && ratio < 0.6, "width ratio \(ratio)")
    }

    @Test func convergedOnceTheIntervalIsTight() throws {
        var rng = SplitMix64(seed: 77)
        let few = (0..<(4 * 2 * 16)).map { _ in rng.gaussian() }
        #expect(try BatchSummary.of(few, shape: [4, 2, 16]).0.normalization(mode: .scalar).converged == false)
        let many = (0..<(512 * 2 * 64)).map { _ in rng.gaussian() }
        let n = try BatchSummary.of(many, shape: [512, 2, 64]).0.normalization(mode: .scalar)
        #expect(n.converged)
        #expect(try BatchSummary.of([1, 2], shape: [1, 2]).0.normalization(mode: .scalar).scalingFactorCI95 == nil)
    }
}
