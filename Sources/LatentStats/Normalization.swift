import Foundation

/// How the normalization is shaped, in diffusers' terms.
public enum NormalizationMode: String, Sendable, CaseIterable, Codable {
    /// `z * scaling_factor` (SD 1.x, SDXL).
    case scalar
    /// `(z - shift_factor) * scaling_factor` (SD3, FLUX).
    case shift
    /// `(z - latents_mean) * scaling_factor / latents_std` per channel (Playground v2.5, Wan, EDM2).
    case channel
    /// `scaling_factor * W (z - latents_mean)` with W = Σ^(-1/2), the ZCA whitening matrix.
    case whiten
}

/// Which spread the factor divides by.
public enum NormalizationMethod: String, Sendable, CaseIterable, Codable {
    /// Standard deviation about the mean (the LDM `scale_by_std` definition).
    case std
    /// Root mean square, √E[z²] (DC-AE's definition).
    case rms
}

/// Why no normalization could be computed.
public enum NormalizationError: Error, Equatable, Sendable, CustomStringConvertible {
    case noData
    case zeroSpread(channel: Int?)
    case rmsNotDefinedForWhiten
    case singularCovariance(smallestEigenvalue: Double)
    case lapackFailed(Int32)

    public var code: String {
        switch self {
        case .noData: "no_data"
        case .zeroSpread: "zero_spread"
        case .rmsNotDefinedForWhiten: "invalid_query"
        case .singularCovariance: "singular_covariance"
        case .lapackFailed: "internal"
        }
    }

    public var description: String {
        switch self {
        case .noData: return "the stream has no finite values yet; push latents first"
        case .zeroSpread(let c):
            return "the latents are constant\(c.map { " in channel \($0)" } ?? ""); no scale can make them unit-variance — check the encoder output"
        case .rmsNotDefinedForWhiten: return "method=rms is not defined for mode=whiten; use method=std"
        case .singularCovariance(let l):
            return "the channel covariance is singular (smallest eigenvalue \(l)); some channels are linear combinations of others — use mode=channel"
        case .lapackFailed(let info): return "LAPACKE_dsyevd failed with info \(info)"
        }
    }
}

/// A normalization to apply to latents, with how sure we are of it.
public struct Normalization: Sendable, Equatable {
    public var mode: NormalizationMode
    public var method: NormalizationMethod
    public var targetStd: Double
    /// `target_std / std` in scalar and shift modes; `target_std` in channel and whiten modes.
    public var scalingFactor: Double
    /// The mean, in shift mode.
    public var shiftFactor: Double?
    /// Per-channel means, in channel and whiten modes.
    public var latentsMean: [Double]?
    /// Per-channel spreads (std or rms), in channel mode.
    public var latentsStd: [Double]?
    /// Σ^(-1/2), row-major C×C, in whiten mode.
    public var whiteningMatrix: [[Double]]?
    public var samples: Int
    public var elements: Int
    /// 95% interval for the effective scale `target_std / spread`, from
    /// between-sample variability. In channel and whiten modes, where
    /// `scaling_factor` is `target_std`, the interval brackets `target_std`
    /// with the relative width of the channel whose effective factor
    /// `target_std / latents_std[c]` is least certain. Nil with fewer than 2 samples.
    public var scalingFactorCI95: [Double]?
    /// Per channel, 95% intervals of `latents_std`, in channel mode.
    public var latentsStdCI95: [[Double]]?
    /// True when the interval's half-width is under 1% of its value (every channel's, per channel).
    public var converged: Bool

    /// The keys to merge into a diffusers VAE `config.json` for this mode.
    public var diffusersKeys: [(key: String, value: DiffusersValue)] {
        var keys: [(String, DiffusersValue)] = [("scaling_factor", .number(scalingFactor))]
        switch mode {
        case .scalar: break
        case .shift: keys.append(("shift_factor", .number(shiftFactor ?? 0)))
        case .channel:
            keys.append(("latents_mean", .numbers(latentsMean ?? [])))
            keys.append(("latents_std", .numbers(latentsStd ?? [])))
        case .whiten:
            keys.append(("latents_mean", .numbers(latentsMean ?? [])))
            keys.append(("whitening_matrix", .matrix(whiteningMatrix ?? [])))
        }
        return keys.map { (key: $0.0, value: $0.1) }
    }
}

/// A value in a diffusers config.
public enum DiffusersValue: Sendable, Equatable {
    case number(Double)
    case numbers([Double])
    case matrix([[Double]])
}

extension BatchSummary {
    /// The normalization to use for these latents (`scaled-protocol(7)`, "Normalization").
    public func normalization(mode: NormalizationMode, method: NormalizationMethod = .std,
                              targetStd: Double = 1.0) throws(NormalizationError) -> Normalization {
        guard total.count > 0 else { throw .noData }
        if mode == .whiten && method == .rms { throw .rmsNotDefinedForWhiten }
        var result = Normalization(mode: mode, method: method, targetStd: targetStd, scalingFactor: targetStd,
                                   samples: samples, elements: elements, converged: false)
        switch mode {
        case .scalar, .shift:
            let spread2 = method == .std ? total.variance! : total.sumOfSquares / Double(total.count)
            guard spread2 > 0 else { throw .zeroSpread(channel: nil) }
            result.scalingFactor = targetStd / spread2.squareRoot()
            if mode == .shift { result.shiftFactor = total.mean }
            result.scalingFactorCI95 = Self.interval(spread: sampleSpread, squaredSpread: spread2,
                                                     method: method, targetStd: targetStd)
            result.converged = result.scalingFactorCI95.map { Self.isNarrow($0) } ?? false
        case .channel, .whiten:
            var stds: [Double] = [], cis: [[Double]] = [], widest: [Double]?, allNarrow = true
            for c in 0..<channels {
                let m = perChannel[c]
                let spread2 = m.count == 0 ? 0 : (method == .std ? m.variance! : m.sumOfSquares / Double(m.count))
                guard spread2 > 0 else { throw .zeroSpread(channel: c) }
                stds.append(spread2.squareRoot())
                let factorCI = Self.interval(spread: channelSpread[c], squaredSpread: spread2,
                                             method: method, targetStd: targetStd)
                if let f = factorCI {
                    // latents_std interval: the factor interval mapped back through target/std.
                    cis.append([targetStd / f[1], targetStd / f[0]])
                    allNarrow = allNarrow && Self.isNarrow(f)
                    if widest == nil || (f[1] - f[0]) / (f[1] + f[0]) > (widest![1] - widest![0]) / (widest![1] + widest![0]) {
                        widest = f
                    }
                } else {
                    allNarrow = false
                }
            }
            result.latentsMean = perChannel.map(\.mean)
            // Expressed around scaling_factor (= target_std here): the relative
            // uncertainty of the least certain channel's effective factor.
            result.scalingFactorCI95 = widest.map { w in
                let mid = (w[0] * w[1]).squareRoot()
                return [targetStd * w[0] / mid, targetStd * w[1] / mid]
            }
            result.converged = widest != nil && allNarrow
            if mode == .channel {
                result.latentsStd = stds
                result.latentsStdCI95 = cis.count == channels ? cis : nil
            } else {
                result.whiteningMatrix = try Whitening.inverseSquareRoot(covariance)
            }
        }
        return result
    }

    /// A 95% interval for `targetStd / √squaredSpread`, with the sample as the unit.
    ///
    /// The pooled spread is the mean over samples of uᵢ (uᵢ = vᵢ + (mᵢ − m̄)² for std,
    /// uᵢ = qᵢ for rms), so its standard error is √(Var(u)/S). For std, Var(u) is
    /// taken as Var(v) + Var((m − m̄)²), neglecting the covariance of a sample's
    /// variance with its squared mean offset. The interval is symmetric on the log
    /// scale (delta method), which keeps it positive.
    static func interval(spread: SampleSpread, squaredSpread: Double, method: NormalizationMethod,
                         targetStd: Double) -> [Double]? {
        let s = spread.samples
        guard s >= 2 else { return nil }
        let S = Double(s)
        let varU: Double
        switch method {
        case .std:
            let means = spread.means
            let varOfSquaredOffset = Swift.max(means.m4 / S - (means.m2 / S) * (means.m2 / S), 0)
            varU = (spread.variances.sampleVariance ?? 0) + varOfSquaredOffset
        case .rms:
            varU = spread.meanSquares.sampleVariance ?? 0
        }
        let se = (varU / S).squareRoot()
        let seLog = se / (2 * squaredSpread)
        let factor = targetStd / squaredSpread.squareRoot()
        return [factor * Foundation.exp(-1.959963984540054 * seLog), factor * Foundation.exp(1.959963984540054 * seLog)]
    }

    static func isNarrow(_ ci: [Double]) -> Bool {
        let mid = (ci[0] + ci[1]) / 2
        return (ci[1] - ci[0]) / 2 < 0.01 * mid
    }
}

