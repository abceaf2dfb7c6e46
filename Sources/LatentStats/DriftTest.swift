import Foundation

/// The drift test: is the normalized spread (or mean) of some latents
/// *significantly* outside the tolerance band around its target?
///
/// The unit of sampling is the sample (axis 0), as for the confidence
/// intervals of ``Normalization``: elements within a latent are strongly
/// correlated, so element counts overstate certainty. A condition holds only
/// when the whole 99.9% interval lies outside the band
/// `[target·(1−tolerance), target·(1+tolerance)]` (for the mean:
/// `baseline ± tolerance·target`), so noise alone — small windows, few samples,
/// images that genuinely differ — does not fire. The interval uses Student's t
/// with S−1 degrees of freedom for S samples, so tiny batches are judged
/// cautiously. Fewer than 2 samples never fire.
public enum DriftTest {
    /// One evaluated statistic with its 99.9% interval.
    public struct Finding: Sendable, Equatable {
        public var value: Double
        public var lower: Double
        public var upper: Double
        /// The channel, for per-channel references.
        public var channel: Int?
        /// Whether the interval lies wholly outside the tolerance band.
        public var outside: Bool
    }

    /// Two-sided 99.9% critical value of Student's t with `df` degrees of freedom.
    public static func critical(df: Int) -> Double {
        let table: [Double] = [636.619, 31.599, 12.924, 8.610, 6.869, 5.959, 5.408, 5.041, 4.781, 4.587]
        if df < 1 { return .infinity }
        if df <= table.count { return table[df - 1] }
        // Cornish–Fisher expansion around the normal quantile (error < 0.01 for df > 10).
        let z = 3.2905267314919255, n = Double(df)
        let z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z
        return z + (z3 + z) / (4 * n) + (5 * z5 + 16 * z3 + 3 * z) / (96 * n * n)
            + (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * n * n * n)
    }

    /// The normalized std `std·|scale|` with its interval, from the pooled
    /// moments and the between-sample spread (see ``Normalization`` for the
    /// variance of the pooled variance).
    public static func std(_ m: Moments, _ spread: SampleSpread, scale: Double) -> (value: Double, lower: Double, upper: Double)? {
        guard let variance = m.variance, variance > 0 else { return nil }
        let value = variance.squareRoot() * Swift.abs(scale)
        let s = spread.samples
        guard s >= 2 else { return (value, 0, .infinity) }
        let S = Double(s)
        let means = spread.means
        let varOfSquaredOffset = Swift.max(means.m4 / S - (means.m2 / S) * (means.m2 / S), 0)
        let varU = (spread.variances.sampleVariance ?? 0) + varOfSquaredOffset
        let seLog = (varU / S).squareRoot() / (2 * variance)
        let c = critical(df: s - 1)
        return (value, value * exp(-c * seLog), value * exp(c * seLog))
    }

    /// The normalized mean `(mean − shift)·scale` with its interval.
    public static func mean(_ m: Moments, _ spread: SampleSpread, shift: Double, scale: Double) -> (value: Double, lower: Double, upper: Double)? {
        guard m.count > 0 else { return nil }
        let value = (m.mean - shift) * scale
        let s = spread.samples
        guard s >= 2, let v = spread.means.sampleVariance else { return (value, -.infinity, .infinity) }
        let half = critical(df: s - 1) * (v / Double(s)).squareRoot() * Swift.abs(scale)
        return (value, value - half, value + half)
    }

    /// Variance drift of `summary` under `normalizer`: pooled for a scalar
    /// reference, per channel (worst channel reported) for a per-channel one.
    public static func varianceDrift(_ summary: BatchSummary, normalizer: AffineNormalizer, perChannel: Bool,
                                     target: Double, tolerance: Double) -> Finding? {
        let lo = target * (1 - tolerance), hi = target * (1 + tolerance)
        func finding(_ r: (value: Double, lower: Double, upper: Double), _ c: Int?) -> Finding {
            Finding(value: r.value, lower: r.lower, upper: r.upper, channel: c, outside: r.lower > hi || r.upper < lo)
        }
        if !perChannel {
            return std(summary.total, summary.sampleSpread, scale: normalizer.scale[0]).map { finding($0, nil) }
        }
        return worstChannel(summary.channels, distance: { Swift.abs($0.value / target - 1) }) { c in
            std(summary.perChannel[c], summary.channelSpread[c], scale: normalizer.scale[c]).map { finding($0, c) }
        }
    }

    /// Mean drift of `summary` under `normalizer` away from `baseline` (normalized units).
    public static func meanDrift(_ summary: BatchSummary, normalizer: AffineNormalizer, perChannel: Bool,
                                 baseline: Double, target: Double, tolerance: Double) -> Finding? {
        let band = tolerance * target
        func finding(_ r: (value: Double, lower: Double, upper: Double), _ c: Int?) -> Finding {
            Finding(value: r.value, lower: r.lower, upper: r.upper, channel: c,
                    outside: r.lower > baseline + band || r.upper < baseline - band)
        }
        if !perChannel {
            return mean(summary.total, summary.sampleSpread, shift: normalizer.shift[0], scale: normalizer.scale[0]).map { finding($0, nil) }
        }
        return worstChannel(summary.channels, distance: { Swift.abs($0.value - baseline) }) { c in
            mean(summary.perChannel[c], summary.channelSpread[c], shift: normalizer.shift[c], scale: normalizer.scale[c]).map { finding($0, c) }
        }
    }

    /// The channel to report: one outside the band if any, else the farthest from target.
    static func worstChannel(_ channels: Int, distance: (Finding) -> Double, _ finding: (Int) -> Finding?) -> Finding? {
        var worst: Finding?
        for c in 0..<channels {
            guard let f = finding(c) else { continue }
            if let w = worst, (w.outside && !f.outside) || (w.outside == f.outside && distance(f) <= distance(w)) { continue }
            worst = f
        }
        return worst
    }
}

extension DriftTest {
    /// Where a finding comes from.
    public enum Scope: String, Sendable {
        case window = "the window"
        case recent = "the recent batches"
        case latest = "the latest batch"
    }

    /// The outcome of one flag's test after a batch.
    public struct Verdict: Sendable, Equatable {
        /// Whether the flag's condition holds.
        public var condition: Bool
        /// The finding to report: the narrowest scope that is outside, else the window's.
        public var shown: Finding
        public var scope: Scope
        /// The window's value (for metrics and the alert's `value`).
        public var windowValue: Double
    }

    /// A flag's condition after a batch: the window, the recent batches (the
    /// window's last ``recentBatches``), or the latest batch alone is
    /// significantly outside the band. The latest batch shows a step in big
    /// batches within `alert_for_batches` batches; the recent batches do the
    /// same for small batches, whose own interval is too wide; the window
    /// catches slow drift that neither sees.
    static func verdict(_ test: (BatchSummary) -> Finding?, window: BatchSummary, recent: BatchSummary?,
                        latest: BatchSummary) -> Verdict? {
        guard let w = test(window) else { return nil }
        let l = test(latest), r = recent.flatMap(test)
        if let l, l.outside { return Verdict(condition: true, shown: l, scope: .latest, windowValue: w.value) }
        if let r, r.outside { return Verdict(condition: true, shown: r, scope: .recent, windowValue: w.value) }
        return Verdict(condition: w.outside, shown: w, scope: .window, windowValue: w.value)
    }

    /// How many of the window's newest batches form the "recent" scope.
    public static let recentBatches = 10

    /// Variance drift after a batch (see ``verdict(_:window:recent:latest:)``).
    public static func varianceVerdict(window: BatchSummary, recent: BatchSummary?, latest: BatchSummary,
                                       normalizer: AffineNormalizer, perChannel: Bool, target: Double,
                                       tolerance: Double) -> Verdict? {
        verdict({ varianceDrift($0, normalizer: normalizer, perChannel: perChannel, target: target, tolerance: tolerance) },
                window: window, recent: recent, latest: latest)
    }

    /// Mean drift after a batch (see ``verdict(_:window:recent:latest:)``).
    public static func meanVerdict(window: BatchSummary, recent: BatchSummary?, latest: BatchSummary,
                                   normalizer: AffineNormalizer, perChannel: Bool, baseline: Double,
                                   target: Double, tolerance: Double) -> Verdict? {
        verdict({ meanDrift($0, normalizer: normalizer, perChannel: perChannel, baseline: baseline, target: target, tolerance: tolerance) },
                window: window, recent: recent, latest: latest)
    }
}
