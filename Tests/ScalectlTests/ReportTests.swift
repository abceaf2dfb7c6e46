import Foundation
import Testing
import TestSupport
@testable import ScalectlCore

@Suite("report: nice ticks and scales")
struct NiceTicksTests {
    @Test(arguments: [
        (1.0, true, 1.0), (1.4, true, 1.0), (1.5, true, 2.0), (2.3, true, 2.0), (3.7, true, 5.0), (7.6, true, 10.0),
        (12.0, true, 10.0), (0.034, true, 0.05), (1.0, false, 1.0), (2.3, false, 5.0), (0.034, false, 0.05),
        (5.1, false, 10.0), (1800.0, false, 2000.0),
    ])
    func niceNumbers(x: Double, round: Bool, expected: Double) {
        #expect(abs(NiceTicks.niceNumber(x, round: round) - expected) < 1e-12 * expected)
    }

    @Test func unitRange() {
        let t = NiceTicks(min: 0, max: 1, count: 5)
        #expect(t.step == 0.2)
        #expect(t.values == [0, 0.2, 0.4, 0.6, 0.8, 1.0])
        #expect(t.values.map(t.label) == ["0", "0.2", "0.4", "0.6", "0.8", "1.0"])
    }

    @Test func toleranceBandRange() {
        // 0.95…1.05 band with data from 0.93 to 1.07: range nice(0.14) = 0.2, step 0.05.
        let t = NiceTicks(min: 0.93, max: 1.07, count: 5)
        #expect(t.step == 0.05)
        #expect(t.lo == 0.9 && t.hi == 1.1)
        #expect(t.values.map(t.label) == ["0.90", "0.95", "1.00", "1.05", "1.10"])
    }

    @Test func ticksCoverTheDataAndAreWholeSteps() {
        for (a, b) in [(-3.7, 3.9), (0.18, 0.1834), (1e4 - 3, 1e4 + 3), (-0.004, 0.0011), (1, 1200), (42, 42)] {
            let t = NiceTicks(min: a, max: b, count: 6)
            #expect(t.lo <= a && t.hi >= b, "\(a)…\(b) → \(t)")
            let v = t.values
            #expect(v.count >= 2 && v.count <= 12, "\(a)…\(b) → \(v)")
            for (x, y) in zip(v, v.dropFirst()) { #expect(abs((y - x) - t.step) < t.step * 1e-9) }
        }
    }

    @Test func degenerateRangeIsWidened() {
        let t = NiceTicks(min: 5, max: 5)
        #expect(t.lo < 5 && t.hi > 5)
        let z = NiceTicks(min: 0, max: 0)
        #expect(z.lo < 0 && z.hi > 0)
    }

    @Test func scaleMapsAndInverts() {
        let y = LinearScale(domain: (0, 2), range: (270, 52))   // a y axis runs upwards
        #expect(y(0) == 270 && y(2) == 52 && y(1) == 161)
        for v in [-1.0, 0.3, 1.7, 5] { #expect(abs(y.invert(y(v)) - v) < 1e-12) }
    }
}

@Suite("report: Chan merge and convergence")
struct ChanMergeTests {
    @Test func handComputed() {
        // [1, 2, 3, 4]: mean 2.5, M2 = 2.25 + 0.25 + 0.25 + 2.25 = 5.
        let a = PooledMoments(values: [1, 2]), b = PooledMoments(values: [3, 4])
        #expect(a == PooledMoments(count: 2, mean: 1.5, m2: 0.5))
        let ab = a.merged(with: b)
        #expect(ab == PooledMoments(count: 4, mean: 2.5, m2: 5))
        #expect(ab.variance == 1.25)
        // From (count, mean, std) as history rows give them: std of [3, 4] is 0.5.
        #expect(PooledMoments(count: 2, mean: 3.5, std: 0.5) == b)
        #expect(PooledMoments.empty.merged(with: a) == a && a.merged(with: .empty) == a)
    }

    /// Property: merging the parts, in any grouping, equals the moments of the whole.
    @Test(arguments: [1, 2, 3, 4, 5])
    func mergingPartsEqualsTheWhole(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        // Offset 1e4, std ~1: E[x²]−E[x]² would lose every digit here.
        let values = (0..<997).map { _ in 1e4 + rng.gaussian() * (0.5 + Double(seed) * 0.2) }
        var cuts = Set<Int>()
        for _ in 0..<Int(seed * 7) { cuts.insert(Int(rng.next() % 996) + 1) }
        let bounds = [0] + cuts.sorted() + [values.count]
        let parts = zip(bounds, bounds.dropFirst()).map { PooledMoments(values: Array(values[$0..<$1])) }
        let whole = PooledMoments(values: values)
        let left = parts.reduce(PooledMoments.empty) { $0.merged(with: $1) }
        let right = parts.reversed().reduce(PooledMoments.empty) { $1.merged(with: $0) }
        for m in [left, right] {
            #expect(m.count == whole.count)
            #expect(abs(m.mean - whole.mean) <= 1e-12 * abs(whole.mean))
            #expect(abs(m.m2 - whole.m2) <= 1e-9 * whole.m2)
        }
    }

    @Test func convergenceSeriesEndsAtTheWholeFactor() throws {
        var rng = SplitMix64(seed: 9)
        let batches = (1...50).map { i -> (HistoryBatch, [Double]) in
            let v = (0..<256).map { _ in rng.gaussian() * 2 + 0.3 }
            let m = PooledMoments(values: v)
            return (HistoryBatch(seq: i, samples: 4, count: 256, mean: m.mean, std: m.std), v)
        }
        let series = Convergence.series(batches.map(\.0), targetStd: 1, maxPoints: 20)
        let all = PooledMoments(values: batches.flatMap(\.1))
        let last = try #require(series.last)
        #expect(last.batches == 50 && last.seq == 50)
        #expect(abs(last.factor - 1 / all.std!) < 1e-12)
        #expect(series.count <= 21 && series.first?.batches == 1)
        #expect(series.first?.ci95 == nil)           // one batch: no interval
        for p in series.dropFirst() {
            let ci = try #require(p.ci95)
            #expect(ci.lo < p.factor && p.factor < ci.hi)
        }
        // More batches, narrower interval (roughly 1/√k).
        let w = { (p: ConvergencePoint) in (p.ci95!.hi - p.ci95!.lo) / p.factor }
        #expect(w(last) < w(series[1]))
        // rms: target / sqrt(mean of squares).
        let rms = Convergence.series(batches.map(\.0), targetStd: 1, rms: true).last!
        #expect(abs(rms.factor - 1 / all.meanSquare!.squareRoot()) < 1e-12)
    }

    @Test func historyRowsGiveElementCounts() throws {
        let row = try JSONValue(parsing: #"{"seq":3,"step":30,"samples":4,"mean":0.5,"std":2,"nonfinite":2,"normalized_std":1.01}"#)
        let b = HistoryBatch(row, elementsPerSample: 1024)
        #expect(b.count == 4094 && b.seq == 3 && b.step == 30 && b.normalizedStd == 1.01)
        #expect(b.moments == PooledMoments(count: 4094, mean: 0.5, m2: 4 * 4094))
    }
}

@Suite("report: histogram and SVG")
struct ReportSVGTests {
    @Test func normalQuantiles() {
        #expect(abs(NormalDistribution.quantile(0.975) - 1.959963984540054) < 1e-9)
        #expect(abs(NormalDistribution.quantile(0.001) + 3.090232306167813) < 1e-9)
        #expect(abs(NormalDistribution.cdf(1) - 0.8413447460685429) < 1e-12)
    }

    static func status(clipRange: Double = 1, factor: Double = 0.5, fraction: Double? = nil) -> JSONValue {
        // Raw latents N(0, 2²), a scalar reference 0.5: normalized N(0, 1).
        let q = [("0.001", -3.090232306167813 * 2), ("0.01", -2.3263478740408408 * 2), ("0.5", 0.0),
                 ("0.99", 2.3263478740408408 * 2), ("0.999", 3.090232306167813 * 2)]
        let quantiles = "{" + q.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
        return try! JSONValue(parsing: """
            {"config":{"target_std":1.0,"drift_tolerance":0.05,"clamp_max_fraction":0.001,"scheduler":{"clip_sample":true,"clip_sample_range":\(clipRange)}},
             "totals":{"batches":2,"samples":8,"elements":8192,"nonfinite":{"nan":0,"posinf":0,"neginf":0}},
             "window":{"elements":100000,"min":-8.5,"max":8.6,"quantiles":\(quantiles)},
             "cumulative":{"mean":0.0,"std":2.0,"samples":8,"channels":[{"mean":0.1,"std":2.0},{"mean":-0.1,"std":1.9}],"correlation":[[1,0.2],[0.2,1]]},
             "estimate":{"scaling_factor":0.5,"shift_factor":0.0,"scaling_factor_ci95":[0.49,0.51],"converged":false},
             "reference":{"source":"declared","scaling_factor":\(factor),"shift_factor":0.0,"latents_mean":null,"latents_std":null},
             "drift":{"normalized_std":1.0,"normalized_mean":0.0},
             "clamp":{"enabled":true,"range":\(clipRange),"fraction_window":\(fraction.map { "\($0)" } ?? "null"),"recommended_range":3.29},
             "flags":[]}
            """)
    }

    @Test func histogramFromStatusQuantilesIsNormalWhenTheDataIs() throws {
        let h = try #require(ReportHistogram.fromStatus(Self.status()))
        #expect(h.source == .quantiles && h.counts.count == 60)
        #expect(abs(h.total - 100000) < 1e-3)
        // Normal data: 31.7% outside ±1, 4.55% outside ±2.
        #expect(abs(h.shareOutside(1) - 0.3173) < 0.01)
        #expect(abs(h.shareOutside(2) - 0.0455) < 0.005)
        #expect(h.edges.first == -4.25 && h.edges.last == 4.3)
    }

    @Test func histogramFromEndpoint() throws {
        let json = try JSONValue(parsing: #"{"edges":[-1,0,1],"counts":[3,5],"below":1,"above":1,"nonfinite":0}"#)
        let h = try #require(ReportHistogram.fromEndpoint(json))
        #expect(h.source == .endpoint && h.total == 10 && h.densities == [0.3, 0.5])
        #expect(abs(h.shareOutside(0.5) - (2 + 1.5 + 2.5) / 10) < 1e-12)
        #expect(ReportHistogram.fromEndpoint(try JSONValue(parsing: #"{"edges":[0],"counts":[1]}"#)) == nil)
    }

    /// Reads `data-…` pairs of the first `<svg>` and every clip line back as data values.
    static func clipValues(_ svg: String) -> [Double] {
        func attr(_ name: String, in text: Substring) -> String? {
            guard let r = text.range(of: " \(name)=\"") else { return nil }
            return String(text[r.upperBound...].prefix { $0 != "\"" })
        }
        let head = svg[..<svg.range(of: ">")!.lowerBound]
        let domain = attr("data-x-domain", in: head)!.split(separator: " ").map { Double($0)! }
        let range = attr("data-x-range", in: head)!.split(separator: " ").map { Double($0)! }
        let scale = LinearScale(domain: (domain[0], domain[1]), range: (range[0], range[1]))
        return svg.components(separatedBy: "<line").dropFirst().filter { $0.contains("data-role=\"clip\"") }.map {
            scale.invert(Double(attr("x1", in: Substring($0))!)!)
        }
    }

    @Test(arguments: [1.0, 2.5])
    func clipLinesSitAtTheRange(range: Double) throws {
        var input = ReportInput(stream: "s", generatedAt: Date(), status: Self.status(clipRange: range, fraction: 0.3), history: [], alerts: [])
        input.histogram = ReportHistogram.fromStatus(input.status)
        let chart = try #require(ReportCharts.histogram(input))
        let clips = Self.clipValues(chart.svg).sorted()
        #expect(clips.count == 2)
        #expect(abs(clips[0] + range) < 1e-3 && abs(clips[1] - range) < 1e-3)
        #expect(chart.svg.contains("outside ±\(Fmt.sig(range, 4)): 30.0%"))
        #expect(chart.svg.contains("<title id=\"histogram-title\">"))
        #expect(chart.standaloneSVG.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(chart.standaloneSVG.contains("prefers-color-scheme: dark"))
        #expect(!chart.svg.contains("xmlns"))
    }

    @Test func pageIsSelfContained() throws {
        var input = ReportInput(stream: "sd<15>", generatedAt: Date(), status: Self.status(), history: [
            try JSONValue(parsing: #"{"seq":1,"step":10,"time":"2026-12-01T10:00:00Z","samples":4,"mean":0.01,"std":2.01,"normalized_std":1.005,"clamp_fraction":0.31,"nonfinite":0}"#),
            try JSONValue(parsing: #"{"seq":2,"step":20,"time":"2026-12-01T10:00:01Z","samples":4,"mean":-0.01,"std":1.99,"normalized_std":0.995,"clamp_fraction":0.32,"nonfinite":0}"#),
        ], alerts: [], diffusers: try JSONValue(parsing: #"{"scaling_factor":0.5}"#))
        input.histogram = ReportHistogram.fromStatus(input.status)
        let charts = ReportCharts.all(input)
        #expect(Set(charts.map(\.id)) == ["histogram", "history-std", "history-mean", "convergence", "channel-mean", "channel-std", "correlation"])
        let page = ReportPage.render(input, charts: charts)
        #expect(page.hasPrefix("<!DOCTYPE html>"))
        #expect(!page.contains("<script") && !page.contains("http://") && !page.contains("https://") && !page.contains("src="))
        #expect(page.components(separatedBy: "<svg").count - 1 == charts.count)
        #expect(page.components(separatedBy: "<details>").count - 1 == charts.count)
        #expect(page.contains("<h1>sd&lt;15&gt;</h1>"))
        #expect(page.contains("&quot;scaling_factor&quot;: 0.5"))
        #expect(page.contains("Chan"))
    }

    @Test(arguments: [
        #"[{"tag":"512x512","samples":64,"scaling_factor":0.52,"scaling_factor_ci95":[0.51,0.53]},{"tag":"1024x1024","samples":32,"scaling_factor":0.47,"scaling_factor_ci95":[0.46,0.48]}]"#,
        #"{"512x512":{"samples":64,"scaling_factor":0.52,"scaling_factor_ci95":[0.51,0.53]},"1024x1024":{"samples":32,"scaling_factor":0.47,"scaling_factor_ci95":[0.46,0.48]}}"#,
    ])
    func bucketsAndOutliersRenderWhenPresent(buckets: String) throws {
        var status = Self.status()
        status.set("buckets", try JSONValue(parsing: buckets))
        status.set("outliers", try JSONValue(parsing: #"[{"sample":3,"z":9.5,"reason":"robust z-score"}]"#))
        let input = ReportInput(stream: "s", generatedAt: Date(), status: status, history: [], alerts: [])
        let chart = try #require(ReportCharts.buckets(input))
        #expect(chart.svg.contains(">512x512</text>") && chart.svg.contains(">1024x1024</text>"))
        #expect(chart.table.rows.map { $0[0] } == ["512x512", "1024x1024"])
        #expect(chart.table.rows[1] == ["1024x1024", "0.47", "0.46", "0.48"])
        let page = ReportPage.render(input, charts: ReportCharts.all(input))
        #expect(page.contains("<h2>Buckets and outliers</h2>") && page.contains("robust z-score"))
        // Without buckets, no section.
        let plain = ReportInput(stream: "s", generatedAt: Date(), status: Self.status(), history: [], alerts: [])
        #expect(ReportCharts.buckets(plain) == nil)
        #expect(!ReportPage.render(plain, charts: ReportCharts.all(plain)).contains("Buckets and outliers"))
    }

    @Test func perChannelReferenceDrawsANormalCurveAndNoMeanChart() throws {
        var status = Self.status()
        status.set("reference", try JSONValue(parsing: #"{"source":"declared","scaling_factor":1,"shift_factor":null,"latents_mean":[0.1,-0.1],"latents_std":[2,1.9]}"#))
        let h = try #require(ReportHistogram.fromStatus(status))
        #expect(h.source == .normal && abs(h.shareOutside(1) - 0.3173) < 0.005)
        #expect(ReportInput.diffusersMode(for: status) == "channel")
        let input = ReportInput(stream: "s", generatedAt: Date(), status: status, history: [], alerts: [], histogram: h)
        #expect(ReportCharts.historyMean(input) == nil)
        #expect(try #require(ReportCharts.histogram(input)).notes[0].contains("normal curve"))
    }

    @Test func longHistoriesKeepEachRunsExtremes() {
        #expect(ReportCharts.decimate([1, 2, 3]) == [0, 1, 2])
        var ys = (0..<100_000).map { Double($0 % 7) * 0.001 + 1 }
        ys[54_321] = 1.5                      // one spike
        ys[7] = .nan
        let keep = ReportCharts.decimate(ys, maxPoints: 1000)
        #expect(keep.count <= 1000 && keep.count >= 900)
        #expect(keep.contains(54_321) && !keep.contains(7))
        #expect(keep == keep.sorted())
    }

    @Test func heatmapColoursAreDivergingAndCapped() {
        #expect(HeatmapChart.color(0) == (r: 236, g: 236, b: 236))
        #expect(HeatmapChart.color(-1) == (r: 0, g: 114, b: 178))
        #expect(HeatmapChart.color(1) == (r: 213, g: 94, b: 0))
        #expect(HeatmapChart.color(7) == HeatmapChart.color(1))
        #expect(HeatmapChart.cellText(-0.001) == "0.00" && HeatmapChart.cellText(-0.6) == "-0.60")
    }

    @Test func legendWrapsAndTheLegendRowsPushThePlotDown() {
        var chart = XYChart(id: "c", title: "t", summary: "s", xLabel: "x", yLabel: "y")
        chart.marks = [.line(x: [0, 1], y: [0, 1], color: .blue)]
        chart.legend = [LegendEntry("one", .blue)]
        let oneRow = chart.layout().y.range.to
        chart.legend = (0..<8).map { LegendEntry("a fairly long legend entry \($0)", .blue) }
        let placed = chart.legendPlacement()
        #expect(placed.last!.row >= 2)
        for p in placed { #expect(p.x + 23 + Double(p.entry.label.count) * 6.6 <= chart.width - XYChart.margin.right) }
        #expect(chart.layout().y.range.to == oneRow + 16 * Double(placed.last!.row))
    }
}

