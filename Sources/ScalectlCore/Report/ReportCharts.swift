import Foundation

/// One chart of the report: its SVG (inline and standalone), what it shows
/// in words, and its numbers as a table.
public struct ReportChart: Sendable {
    /// The file name stem for `--svg DIR`, and the element id.
    public var id: String
    public var heading: String
    /// Paragraphs under the heading: how to read the chart and how it was computed.
    public var notes: [String]
    public var svg: String
    public var standaloneSVG: String
    public var table: DataTable

    init(id: String, heading: String, notes: [String], chart: XYChart, table: DataTable) {
        self.id = id
        self.heading = heading
        self.notes = notes
        svg = chart.svg(standalone: false)
        standaloneSVG = chart.svg(standalone: true)
        self.table = table
    }

    init(id: String, heading: String, notes: [String], heatmap: HeatmapChart, table: DataTable) {
        self.id = id
        self.heading = heading
        self.notes = notes
        svg = heatmap.svg(standalone: false)
        standaloneSVG = heatmap.svg(standalone: true)
        self.table = table
    }
}

/// Builds the report's charts from what was fetched; pure.
public enum ReportCharts {
    /// Every chart the input has data for, in page order.
    public static func all(_ input: ReportInput) -> [ReportChart] {
        [histogram(input), historyStd(input), historyMean(input), convergence(input),
         channelMeans(input), channelStds(input), correlation(input), buckets(input)].compactMap { $0 }
    }

    static func f(_ v: Double?, _ digits: Int = 5) -> String { Fmt.sig(v, digits) }

    // MARK: histogram

    /// Histogram of the window's normalized values with the clip lines.
    public static func histogram(_ input: ReportInput) -> ReportChart? {
        guard let h = input.histogram else { return nil }
        let range = input.clipRange
        let recommended = input.status["clamp"]?["recommended_range"]?.double
        let exactShare = input.status["clamp"]?["fraction_window"]?.double
        let share = exactShare ?? h.shareOutside(range)
        var chart = XYChart(id: "histogram", title: "Normalized latents (window)",
                            summary: "Histogram of the window's normalized values with the scheduler's clip range at ±\(f(range, 4)); \(Fmt.percent(share)) of values lie outside it.",
                            xLabel: "normalized value (dimensionless, target std \(f(input.targetStd, 4)))",
                            yLabel: "density (share of values per unit)")
        chart.marks = [.bars(edges: h.edges, heights: h.densities, color: .blue)]
        let clipNote = input.clipEnabled ? "" : " (clip_sample off)"
        chart.marks.append(.vline(x: -range, color: .vermillion, dashed: true, role: "clip", label: "−\(f(range, 4))"))
        chart.marks.append(.vline(x: range, color: .vermillion, dashed: true, role: "clip", label: "+\(f(range, 4))"))
        chart.marks.append(.note("outside ±\(f(range, 4))\(clipNote): \(Fmt.percent(share))\(exactShare == nil ? " (estimated)" : "")"))
        if let r = recommended, r.isFinite, r > 0 {
            chart.marks.append(.vline(x: -r, color: .green, dashed: true, role: "recommended", label: nil))
            chart.marks.append(.vline(x: r, color: .green, dashed: true, role: "recommended", label: nil))
            chart.marks.append(.note("recommended range: ±\(f(r, 4))"))
        }
        chart.legend = [LegendEntry("window, normalized", .blue, .box),
                        LegendEntry("±clip_sample_range\(clipNote)", .vermillion, .dashed)]
        if recommended != nil { chart.legend.append(LegendEntry("recommended range", .green, .dashed)) }
        let sourceNote: String
        switch h.source {
        case .endpoint:
            sourceNote = "Bins from scaled's GET …/histogram (the window's quantile sketch, normalized under the reference in use)."
        case .quantiles:
            let what = ReportHistogram.scalarNormalization(input.status)?.what ?? "the reference"
            sourceNote = "This scaled has no GET …/histogram yet, so the bars are estimated from the status: the window's min, 0.1%, 1%, 50%, 99%, 99.9% quantiles and max, normalized under \(what), with the distribution between them interpolated in normal-score space. They are exact at those points and approximate in between."
        case .normal:
            sourceNote = "This scaled has no GET …/histogram yet and the reference is per channel, so raw quantiles cannot be normalized: the bars are a normal curve with the window's normalized mean and std, not measured counts."
        }
        var notes = [sourceNote]
        notes.append(exactShare != nil
            ? "The share outside ±clip_sample_range is scaled's own count over the window (status clamp.fraction_window)."
            : "The share outside ±clip_sample_range is estimated from the bars.")
        if let r = recommended { notes.append("The recommended range ±\(f(r, 4)) is the smallest clip_sample_range that keeps the clamped share under clamp_max_fraction (\(Fmt.percent(input.config?["clamp_max_fraction"]?.double)))." ) }
        let dens = h.densities
        let rows = h.counts.indices.map { i in [f(h.edges[i], 4), f(h.edges[i + 1], 4), h.source == .endpoint ? String(Int(h.counts[i].rounded())) : f(h.counts[i], 4), f(dens[i], 4)] }
        return ReportChart(id: "histogram", heading: "Distribution of normalized latents", notes: notes, chart: chart,
                           table: DataTable(caption: "Histogram bins (\(h.source.rawValue))", headers: ["from", "to", "values", "density"], rows: rows))
    }

    // MARK: history

    /// Which points of a long series to draw: all of them up to `maxPoints`,
    /// else the smallest and the largest of each run of consecutive points
    /// (in their order), so that a one-batch spike still shows.
    public static func decimate(_ values: [Double], maxPoints: Int = 1500) -> [Int] {
        guard values.count > maxPoints, maxPoints >= 2 else { return Array(values.indices) }
        let run = Int((Double(values.count) / Double(maxPoints / 2)).rounded(.up))
        var keep: [Int] = []
        for start in stride(from: 0, to: values.count, by: run) {
            let idx = (start..<Swift.min(start + run, values.count)).filter { values[$0].isFinite }
            guard let lo = idx.min(by: { values[$0] < values[$1] }), let hi = idx.max(by: { values[$0] < values[$1] }) else { continue }
            keep += lo == hi ? [lo] : [Swift.min(lo, hi), Swift.max(lo, hi)]
        }
        return keep
    }

    static func decimationNote(_ kept: Int, of total: Int) -> String {
        kept < total ? " With \(total) batches, the line and the table keep the lowest and the highest batch of each run of consecutive batches (\(kept) points)." : ""
    }

    struct Axis {
        var xs: [Double]
        var label: String
        var usesSteps: Bool
    }

    static func historyAxis(_ batches: [HistoryBatch]) -> Axis {
        let usesSteps = !batches.isEmpty && batches.allSatisfy { $0.step != nil }
        return Axis(xs: batches.map { Double(usesSteps ? $0.step! : $0.seq) },
                    label: usesSteps ? "training step" : "batch (push number)", usesSteps: usesSteps)
    }

    /// Firing periods of the stream's alerts as x intervals of the history axis.
    static func firingSpans(_ input: ReportInput, _ batches: [HistoryBatch], _ axis: Axis) -> [(kind: String, from: Double, to: Double, label: String)] {
        guard !batches.isEmpty else { return [] }
        var out: [(kind: String, from: Double, to: Double, label: String)] = []
        for a in input.alerts {
            guard let state = a["state"]?.string, state == "firing" || state == "resolved",
                  let since = a["since"]?.string.flatMap(Fmt.parseTimestamp) else { continue }
            let end = a["resolved_at"]?.string.flatMap(Fmt.parseTimestamp)
            guard let first = batches.firstIndex(where: { ($0.time ?? .distantPast) >= since }) else { continue }
            let last = end.flatMap { e in batches.lastIndex(where: { ($0.time ?? .distantFuture) <= e }) } ?? (batches.count - 1)
            guard last >= first else { continue }
            let kind = a["kind"]?.string ?? "alert"
            out.append((kind: kind, from: axis.xs[first], to: axis.xs[last], label: "\(kind) \(state): \(a["message"]?.string ?? "")"))
        }
        return out
    }

    static func alertColor(_ kind: String) -> ChartColor {
        switch kind {
        case "variance_drift": return .vermillion
        case "mean_drift": return .orange
        case "clamp_out_of_range": return .purple
        case "nonfinite": return .yellow
        default: return .gray
        }
    }

    static func addSpans(_ chart: inout XYChart, _ spans: [(kind: String, from: Double, to: Double, label: String)]) {
        var seen: [String] = []
        for s in spans {
            chart.marks.insert(.xspan(from: s.from, to: s.to, color: alertColor(s.kind), role: "firing", label: s.label), at: 0)
            if !seen.contains(s.kind) {
                seen.append(s.kind)
                chart.legend.append(LegendEntry("\(s.kind) firing", alertColor(s.kind), .box))
            }
        }
    }

    /// Normalized std per batch against the tolerance band.
    public static func historyStd(_ input: ReportInput) -> ReportChart? {
        let batches = input.batches
        let ys = batches.map { $0.normalizedStd ?? .nan }
        guard ys.contains(where: \.isFinite) else { return nil }
        let axis = historyAxis(batches)
        let t = input.targetStd, tol = input.driftTolerance
        var chart = XYChart(id: "history-std", title: "Normalized std per batch",
                            summary: "Each batch's std after the reference normalization, against the band target_std × (1 ± drift_tolerance) = \(f(t * (1 - tol), 4))…\(f(t * (1 + tol), 4)).",
                            xLabel: axis.label, yLabel: "normalized std (dimensionless)")
        let keep = decimate(ys)
        chart.marks = [.yspan(from: t * (1 - tol), to: t * (1 + tol), color: .green, role: "tolerance"),
                       .hline(y: t, color: .green, dashed: true, role: "target", label: "target \(f(t, 4))"),
                       .line(x: keep.map { axis.xs[$0] }, y: keep.map { ys[$0] }, color: .blue)]
        chart.legend = [LegendEntry("normalized std", .blue), LegendEntry("target ± \(Fmt.percent(tol))", .green, .box)]
        addSpans(&chart, firingSpans(input, batches, axis))
        let rows = keep.map { batches[$0] }.map { b in [String(b.seq), b.step.map(String.init) ?? "-", b.time.map(Fmt.timestamp) ?? "-", f(b.normalizedStd), f(b.clampFraction, 3)] }
        return ReportChart(id: "history-std", heading: "Normalized std per batch",
                           notes: ["One point per pushed batch (GET …/history): the batch's std after the reference normalization in use when it was pushed. The green band is target_std × (1 ± drift_tolerance); shaded columns are the periods of alerts that fired, from the alert's since (when its condition first held, pending included) to its resolution or the latest batch (GET /v1/alerts?all=true), as in scalectl history. scaled's variance_drift test looks at the whole window and its newest batches with a noise-aware test, so a single batch outside the band does not fire." + decimationNote(keep.count, of: batches.count)],
                           chart: chart,
                           table: DataTable(caption: "Per-batch history", headers: ["seq", "step", "time", "normalized std", "clamp share"], rows: rows))
    }

    /// The normalized mean per batch, for a scalar reference.
    public static func historyMean(_ input: ReportInput) -> ReportChart? {
        guard let normalization = ReportHistogram.scalarNormalization(input.status) else { return nil }
        let (factor, shift, what) = (normalization.factor, normalization.shift, normalization.what)
        let batches = input.batches
        let ys = batches.map { b in b.mean.map { ($0 - shift) * factor } ?? .nan }
        guard ys.contains(where: \.isFinite) else { return nil }
        let axis = historyAxis(batches)
        let t = input.targetStd, tol = input.driftTolerance
        // The mean-drift test's centre: 0 where the reference centres the
        // latents; otherwise scaled's baseline, which it does not export, so
        // the cumulative normalized mean stands in.
        let declaredShift = input.status["reference"]?["shift_factor"]?.double ?? 0
        let frozen = input.status["reference"]?["source"]?.string == "frozen"
        let cumulativeMean = input.status["cumulative"]?["mean"]?.double.map { ($0 - shift) * factor } ?? 0
        let centre = declaredShift != 0 || frozen ? 0 : cumulativeMean
        var chart = XYChart(id: "history-mean", title: "Normalized mean per batch",
                            summary: "Each batch's mean after \(what), against the band \(f(centre, 3)) ± drift_tolerance × target_std.",
                            xLabel: axis.label, yLabel: "normalized mean (dimensionless)")
        let keep = decimate(ys)
        chart.marks = [.yspan(from: centre - tol * t, to: centre + tol * t, color: .green, role: "tolerance"),
                       .hline(y: centre, color: .green, dashed: true, role: "target", label: "centre \(f(centre, 3))"),
                       .line(x: keep.map { axis.xs[$0] }, y: keep.map { ys[$0] }, color: .orange)]
        chart.legend = [LegendEntry("normalized mean", .orange), LegendEntry("centre ± drift_tolerance × target_std", .green, .box)]
        addSpans(&chart, firingSpans(input, batches, axis))
        let rows = keep.map { i in [String(batches[i].seq), batches[i].step.map(String.init) ?? "-", f(batches[i].mean), f(ys[i])] }
        var notes = ["The batch mean from the history, normalized as (mean − \(f(shift))) × \(f(factor)) under \(what) (the one in use now, for every batch)." + decimationNote(keep.count, of: batches.count)]
        notes.append(centre == 0 ? "The band is centred on 0 because the reference centres the latents (a declared shift or a frozen estimate)."
                                  : "The band is centred on the cumulative normalized mean: scaled compares with the normalized mean when the reference was first evaluated, which it does not export.")
        return ReportChart(id: "history-mean", heading: "Normalized mean per batch", notes: notes, chart: chart,
                           table: DataTable(caption: "Per-batch mean", headers: ["seq", "step", "raw mean", "normalized mean"], rows: rows))
    }

    // MARK: convergence

    /// How the cumulative scaling factor settled, with its interval.
    public static func convergence(_ input: ReportInput) -> ReportChart? {
        let rms = input.status["estimate"]?["method"]?.string == "rms"
        let points = Convergence.series(input.batches, targetStd: input.targetStd, rms: rms)
        guard points.count >= 1 else { return nil }
        let xs = points.map { Double($0.batches) }
        var chart = XYChart(id: "convergence", title: "Cumulative scaling factor",
                            summary: "target_std / std over the first k batches, with its 95% interval, for k up to \(points.last!.batches).",
                            xLabel: "batches merged", yLabel: "scaling_factor = target_std / \(rms ? "rms" : "std")")
        let withCI = points.filter { $0.ci95 != nil }
        if !withCI.isEmpty {
            chart.marks.append(.band(x: withCI.map { Double($0.batches) }, lower: withCI.map { $0.ci95!.lo },
                                     upper: withCI.map { $0.ci95!.hi }, color: .blue, role: "ci"))
        }
        chart.marks.append(.line(x: xs, y: points.map(\.factor), color: .blue))
        chart.legend = [LegendEntry("cumulative factor (Chan merge of history)", .blue), LegendEntry("95% interval, batches as units", .blue, .box)]
        let estimate = input.status["estimate"]
        if let e = estimate?["scaling_factor"]?.double, let ci = estimate?["scaling_factor_ci95"]?.doubles, ci.count == 2 {
            chart.marks.append(.errorBars(x: [xs.last!], y: [e], lo: [ci[0]], hi: [ci[1]], color: .vermillion))
            chart.legend.append(LegendEntry("scaled's estimate and 95% CI (samples as units)", .vermillion, .point))
        }
        if let ref = input.status["reference"], !ref.isNull, ref["latents_mean"]?.isNull ?? true, let rf = ref["scaling_factor"]?.double {
            chart.marks.append(.hline(y: rf, color: .purple, dashed: true, role: "reference", label: "reference \(f(rf))"))
            chart.legend.append(LegendEntry("reference", .purple, .dashed))
        }
        let last = points.last!
        var notes = [
            "Computed exactly from the history rows with Chan's merge: each row's element count, mean and population std give its (n, mean, M2), merged pairwise in order, so the line is the factor scaled would have reported after each batch. \(points.count < input.history.count ? "Drawn at \(points.count) evenly spaced batches." : "")",
            "History rows carry samples but not elements; each row's count is samples × \(f(input.elementsPerSample, 6)) elements per sample (the stream's totals) minus its non-finite values, which is exact when every push has the same latent shape.",
            "The band treats each batch as one independent unit (between-batch spread of the pooled variance, delta method on the log scale). scaled's own interval, at the right end, uses the sample as the unit and is usually narrower.",
        ]
        if let cumStd = input.status["cumulative"]?["std"]?.double, let merged = last.moments.std, cumStd > 0 {
            let rel = abs(merged - cumStd) / cumStd
            notes.append("Check: the merged std over \(last.batches) batches is \(f(merged, 8)); the daemon's cumulative std is \(f(cumStd, 8)) (relative difference \(Fmt.sig(rel, 2)))\(input.history.first?["seq"]?.int == 1 ? "" : ", but the history does not start at the stream's first batch").")
        }
        let rows = points.map { p in [String(p.batches), String(p.seq), f(p.moments.mean), f(p.moments.std), f(p.factor, 6), f(p.ci95?.lo, 6), f(p.ci95?.hi, 6)] }
        return ReportChart(id: "convergence", heading: "Convergence of the scaling factor", notes: notes, chart: chart,
                           table: DataTable(caption: "Cumulative factor after k batches", headers: ["batches", "seq", "mean", "std", "factor", "95% lo", "95% hi"], rows: rows))
    }

    // MARK: channels

    static func channels(_ input: ReportInput) -> [JSONValue] { input.status["cumulative"]?["channels"]?.array ?? [] }

    /// Per-channel means with a conservative interval.
    public static func channelMeans(_ input: ReportInput) -> ReportChart? {
        let ch = channels(input)
        guard !ch.isEmpty else { return nil }
        let samples = Double(input.status["cumulative"]?["samples"]?.int ?? 0)
        let means = ch.map { $0["mean"]?.double ?? .nan }
        let stds = ch.map { $0["std"]?.double ?? .nan }
        let half = stds.map { samples > 0 ? 1.959963984540054 * $0 / samples.squareRoot() : .nan }
        var chart = XYChart(id: "channel-mean", title: "Per-channel mean",
                            summary: "Mean of each of the \(ch.count) channels over all pushed latents, with 95% intervals.",
                            xLabel: "channel", yLabel: "mean (raw latent units)")
        chart.categories = ch.indices.map { String($0) }
        let xs = ch.indices.map(Double.init)
        chart.marks = [.errorBars(x: xs, y: means, lo: zip(means, half).map { $0 - $1 }, hi: zip(means, half).map { $0 + $1 }, color: .blue)]
        chart.legend = [LegendEntry("mean ± 95% (conservative)", .blue, .point)]
        let rows = ch.indices.map { i in [String(i), f(means[i]), f(means[i] - half[i]), f(means[i] + half[i])] }
        return ReportChart(id: "channel-mean", heading: "Per-channel mean", notes: [
            "Intervals are 1.96 · std_c / √samples: with the sample as the unit, the variance of a sample's channel mean is at most the channel's variance (law of total variance), so this is an upper bound on the true interval. scaled does not export the between-sample spread of channel means that a tighter one needs.",
        ], chart: chart, table: DataTable(caption: "Per-channel mean", headers: ["channel", "mean", "95% lo", "95% hi"], rows: rows))
    }

    /// Per-channel stds with scaled's channel-mode intervals.
    public static func channelStds(_ input: ReportInput) -> ReportChart? {
        let ch = channels(input)
        guard !ch.isEmpty else { return nil }
        let stds = ch.map { $0["std"]?.double ?? .nan }
        let cis = input.channelNormalization?["latents_std_ci95"]?.array?.map { $0.doubles ?? [] } ?? []
        let haveCI = cis.count == ch.count && cis.allSatisfy { $0.count == 2 }
        var chart = XYChart(id: "channel-std", title: "Per-channel std",
                            summary: "Population std of each of the \(ch.count) channels over all pushed latents\(haveCI ? ", with scaled's 95% intervals" : "").",
                            xLabel: "channel", yLabel: "std (raw latent units)")
        chart.categories = ch.indices.map { String($0) }
        let xs = ch.indices.map(Double.init)
        chart.marks = [.errorBars(x: xs, y: stds, lo: haveCI ? cis.map { $0[0] } : stds, hi: haveCI ? cis.map { $0[1] } : stds, color: .orange)]
        chart.legend = [LegendEntry(haveCI ? "std with 95% CI (scaled, samples as units)" : "std", .orange, .point)]
        let rows = ch.indices.map { i in [String(i), f(stds[i]), haveCI ? f(cis[i][0]) : "-", haveCI ? f(cis[i][1]) : "-"] }
        return ReportChart(id: "channel-std", heading: "Per-channel std", notes: [
            haveCI ? "Intervals are latents_std_ci95 from GET …/normalization?mode=channel (between-sample variability)." : "scaled did not give per-channel intervals (GET …/normalization?mode=channel failed).",
        ], chart: chart, table: DataTable(caption: "Per-channel std", headers: ["channel", "std", "95% lo", "95% hi"], rows: rows))
    }

    /// The channel correlation matrix.
    public static func correlation(_ input: ReportInput) -> ReportChart? {
        guard let m = input.status["cumulative"]?["correlation"]?.array?.map({ $0.array?.map { $0.double ?? .nan } ?? [] }),
              m.count >= 2, m.allSatisfy({ $0.count == m.count }) else { return nil }
        let labels = m.indices.map { String($0) }
        let chart = HeatmapChart(id: "correlation", title: "Channel correlation",
                                 summary: "Pearson correlation between the \(m.count) channels over all pushed latents (each position across the non-channel axes is one observation).",
                                 labels: labels, values: m)
        let rows = m.indices.map { i in [String(i)] + m[i].map { f($0, 3) } }
        return ReportChart(id: "correlation", heading: "Channel correlation", notes: [
            "From the status' cumulative correlation matrix. Strongly correlated channels are what mode=whiten removes.",
        ], heatmap: chart, table: DataTable(caption: "Correlation matrix", headers: ["channel"] + labels, rows: rows))
    }

    // MARK: buckets

    /// Per-bucket scaling factors, when the status has `buckets`.
    public static func buckets(_ input: ReportInput) -> ReportChart? {
        let entries = ReportPage.bucketEntries(input.status)
        let factors = entries.compactMap { e -> (String, Double, [Double]?)? in
            guard let v = e.value["scaling_factor"]?.double ?? e.value["estimate"]?["scaling_factor"]?.double else { return nil }
            let ci = e.value["scaling_factor_ci95"]?.doubles ?? e.value["estimate"]?["scaling_factor_ci95"]?.doubles
            return (e.name, v, ci?.count == 2 ? ci : nil)
        }
        guard !factors.isEmpty else { return nil }
        var chart = XYChart(id: "buckets", title: "Scaling factor per bucket",
                            summary: "Estimated scaling factor of each of the \(factors.count) tags (buckets), with 95% intervals where scaled gives them.",
                            xLabel: "bucket (tag)", yLabel: "scaling_factor")
        chart.categories = factors.map(\.0)
        let xs = factors.indices.map(Double.init)
        chart.marks = [.errorBars(x: xs, y: factors.map(\.1), lo: factors.map { $0.2?[0] ?? $0.1 }, hi: factors.map { $0.2?[1] ?? $0.1 }, color: .purple)]
        if let e = input.status["estimate"]?["scaling_factor"]?.double {
            chart.marks.append(.hline(y: e, color: .blue, dashed: true, role: "estimate", label: "stream \(f(e))"))
        }
        chart.legend = [LegendEntry("bucket factor ± 95%", .purple, .point), LegendEntry("whole stream", .blue, .dashed)]
        let rows = factors.map { [$0.0, f($0.1), f($0.2?[0]), f($0.2?[1])] }
        return ReportChart(id: "buckets", heading: "Scaling factor per bucket", notes: [
            "A bucket whose interval excludes the stream's factor is one that sits apart (what bucket_mismatch reports).",
        ], chart: chart, table: DataTable(caption: "Per-bucket factor", headers: ["bucket", "factor", "95% lo", "95% hi"], rows: rows))
    }
}
