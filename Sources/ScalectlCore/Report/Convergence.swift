import Foundation

/// One batch of `GET …/history`, as the report needs it.
public struct HistoryBatch: Sendable, Equatable {
    public var seq: Int
    public var step: Int?
    public var time: Date?
    public var samples: Int
    /// Finite elements in the batch (see ``Convergence/finiteCount``).
    public var count: Double
    public var mean: Double?
    public var std: Double?
    public var normalizedStd: Double?
    public var clampFraction: Double?
    public var nonfinite: Int

    public init(seq: Int, step: Int? = nil, time: Date? = nil, samples: Int, count: Double,
                mean: Double?, std: Double?, normalizedStd: Double? = nil, clampFraction: Double? = nil, nonfinite: Int = 0) {
        self.seq = seq; self.step = step; self.time = time; self.samples = samples; self.count = count
        self.mean = mean; self.std = std; self.normalizedStd = normalizedStd
        self.clampFraction = clampFraction; self.nonfinite = nonfinite
    }

    /// A history row. Rows carry samples but not elements, so the element
    /// count is `elementsPerSample × samples − nonfinite`.
    public init(_ e: JSONValue, elementsPerSample: Double) {
        seq = e["seq"]?.int ?? 0
        step = e["step"]?.int
        time = e["time"]?.string.flatMap(Fmt.parseTimestamp)
        samples = e["samples"]?.int ?? 0
        nonfinite = e["nonfinite"]?.int ?? 0
        mean = e["mean"]?.double
        std = e["std"]?.double
        normalizedStd = e["normalized_std"]?.double
        clampFraction = e["clamp_fraction"]?.double
        count = Swift.max(0, elementsPerSample * Double(samples) - Double(nonfinite))
    }

    /// The batch as mergeable moments (empty when it held no finite value).
    public var moments: PooledMoments {
        guard let mean, let std, mean.isFinite, std.isFinite, count > 0 else { return .empty }
        return PooledMoments(count: count, mean: mean, std: std)
    }
}

/// One point of the convergence chart.
public struct ConvergencePoint: Sendable, Equatable {
    /// Batches merged so far.
    public var batches: Int
    /// The `seq` of the last merged batch.
    public var seq: Int
    public var moments: PooledMoments
    /// `target_std / std` (or `/ rms`) over the merged batches.
    public var factor: Double
    /// 95% interval of `factor`, batches as the unit; nil below 2 batches.
    public var ci95: (lo: Double, hi: Double)?

    public static func == (a: ConvergencePoint, b: ConvergencePoint) -> Bool {
        a.batches == b.batches && a.seq == b.seq && a.moments == b.moments && a.factor == b.factor
            && a.ci95?.lo == b.ci95?.lo && a.ci95?.hi == b.ci95?.hi
    }
}

/// The cumulative scaling factor over batches, from history rows alone.
public enum Convergence {
    /// Cumulative points after each batch, kept at (at most) `maxPoints`
    /// evenly spaced batches plus the last one.
    ///
    /// The factor is exact (Chan's merge of the rows' counts, means and
    /// stds). Its interval treats each batch as one independent unit: the
    /// pooled spread s² = Σ nᵦuᵦ / N with uᵦ = vᵦ + (mᵦ − m̄)² (std) or
    /// vᵦ + mᵦ² (rms) is a ratio estimator, whose variance is
    /// B/(B−1) · Σ nᵦ²(uᵦ − s²)² / N²; the interval is symmetric on the log
    /// scale (delta method), as scaled's own. Batches are coarser units than
    /// the samples scaled uses, so this interval is usually somewhat wider.
    public static func series(_ batches: [HistoryBatch], targetStd: Double, rms: Bool = false,
                              maxPoints: Int = 400) -> [ConvergencePoint] {
        let rows = batches.filter { $0.moments.count > 0 }
        guard !rows.isEmpty else { return [] }
        let every = Swift.max(1, Int((Double(rows.count) / Double(Swift.max(maxPoints, 1))).rounded(.up)))
        var pooled = PooledMoments.empty
        var out: [ConvergencePoint] = []
        for (i, row) in rows.enumerated() {
            pooled.merge(row.moments)
            let k = i + 1
            guard k % every == 0 || k == rows.count || k == 1 else { continue }
            guard let spread2 = rms ? pooled.meanSquare : pooled.variance, spread2 > 0 else { continue }
            let factor = targetStd / spread2.squareRoot()
            out.append(ConvergencePoint(batches: k, seq: row.seq, moments: pooled, factor: factor,
                                        ci95: interval(rows[0..<k], pooled: pooled, spread2: spread2, factor: factor, rms: rms)))
        }
        return out
    }

    static func interval(_ rows: ArraySlice<HistoryBatch>, pooled: PooledMoments, spread2: Double, factor: Double,
                         rms: Bool) -> (lo: Double, hi: Double)? {
        let b = Double(rows.count)
        guard rows.count >= 2 else { return nil }
        var sum = 0.0
        for r in rows {
            let m = r.moments
            let v = m.variance ?? 0
            let offset = rms ? m.mean : m.mean - pooled.mean
            let u = v + offset * offset
            let d = m.count * (u - spread2)
            sum += d * d
        }
        let varianceOfSpread2 = b / (b - 1) * sum / (pooled.count * pooled.count)
        let seLog = varianceOfSpread2.squareRoot() / (2 * spread2)
        let z = 1.959963984540054
        return (factor * Foundation.exp(-z * seLog), factor * Foundation.exp(z * seLog))
    }
}
