import Foundation
import Testing
@testable import ScalectlCore

@Suite("number and table formatting")
struct FormatTests {
    @Test func significantDigits() {
        #expect(Fmt.sig(0.18215) == "0.18215")
        #expect(Fmt.sig(0.1821512345, 6) == "0.182151")
        #expect(Fmt.sig(1.0) == "1")
        #expect(Fmt.sig(nil) == "-")
        #expect(Fmt.sig(0) == "0")
        #expect(Fmt.sig(1.5e-7, 3) == "1.50e-07")
        #expect(Fmt.sig(.nan) == "nan")
        #expect(Fmt.sig(-.infinity) == "-inf")
    }

    @Test func counts() {
        #expect(Fmt.count(9999) == "9999")
        #expect(Fmt.count(524_288) == "524.3k")
        #expect(Fmt.count(5_242_880) == "5.2M")
        #expect(Fmt.count(3_000_000_000) == "3G")
        #expect(Fmt.count(nil) == "-")
    }

    @Test func percentages() {
        #expect(Fmt.percent(0.317) == "31.7%")
        #expect(Fmt.percent(0.0012) == "0.12%")
        #expect(Fmt.percent(0) == "0%")
        #expect(Fmt.percent(1e-9) == "<0.001%")
        #expect(Fmt.percent(nil) == "-")
    }

    @Test func ages() {
        let now = Fmt.parseTimestamp("2026-11-27T10:51:43.123Z")!
        #expect(Fmt.age("2026-11-27T10:51:40.000Z", now: now) == "3s")
        #expect(Fmt.age("2026-11-27T10:41:43Z", now: now) == "10m")
        #expect(Fmt.age("2026-11-25T10:51:43.123Z", now: now) == "2d")
        #expect(Fmt.age("yesterday", now: now) == "-")
        #expect(Fmt.age(nil, now: now) == "-")
    }

    @Test func durations() {
        #expect(Fmt.duration(2.34) == "2.3s")
        #expect(Fmt.duration(185) == "3m05s")
        #expect(Fmt.duration(7800) == "2h10m")
        #expect(Fmt.duration(.infinity) == "--")
    }

    @Test func tableAlignsAndIgnoresColour() {
        var t = Table([("NAME", .left), ("N", .right), ("NOTE", .left)])
        t.add(["a", "1", "x"])
        t.add(["long", Style(enabled: true).red("1234"), "y"])
        let lines = t.render()
        #expect(lines[0] == "NAME     N  NOTE")
        #expect(lines[1] == "a        1  x")
        #expect(visibleWidth(lines[2]) == lines[1].count)
    }

    @Test func colourOnlyOnATerminalWithoutNoColor() {
        #expect(Terminal.colorAllowed(isTTY: true, environment: [:]))
        #expect(!Terminal.colorAllowed(isTTY: false, environment: [:]))
        #expect(!Terminal.colorAllowed(isTTY: true, environment: ["NO_COLOR": "1"]))
        #expect(Terminal.colorAllowed(isTTY: true, environment: ["NO_COLOR": ""]))
        #expect(!Terminal.colorAllowed(isTTY: true, environment: ["TERM": "dumb"]))
        #expect(Style(enabled: false).red("x") == "x")
    }

    @Test func truncationKeepsEscapes() {
        let s = Style(enabled: true).red("abcdefghij")
        let cut = truncateVisible(s, to: 5)
        #expect(visibleWidth(cut) == 5)
        #expect(cut.hasSuffix("\u{1B}[0m"))
    }
}

@Suite("stream summaries and --check")
struct SummaryTests {
    let listEntry = try! JSONValue(parsing: #"""
        {"name":"sd15","batches":12,"samples":384,"elements":6291456,"nonfinite":3,"scaling_factor":0.18215,
         "normalized_std":1.07,"clamp_fraction":0.0012,"last_push_at":"2026-11-27T10:51:43.123Z",
         "flags":[{"kind":"variance_drift","state":"firing","since":"2026-11-27T10:50:00Z","message":"std 1.07"},
                  {"kind":"clamp_out_of_range","state":"pending","since":"2026-11-27T10:51:00Z","message":"m"}]}
        """#)

    @Test func tableRow() {
        let s = StreamSummary(listEntry: listEntry)
        let lines = StreamSummary.table([s], style: Style(enabled: false)).render()
        #expect(lines[0].hasPrefix("STREAM  BATCHES  SAMPLES"))
        #expect(lines[1].contains("0.18215"))
        #expect(lines[1].contains("1.07"))
        #expect(lines[1].contains("0.12%"))
        #expect(lines[1].hasSuffix("variance_drift"))
        #expect(!lines[1].contains("clamp_out_of_range"))
    }

    @Test func plainLine() {
        let line = StreamSummary(listEntry: listEntry).line()
        #expect(line == "sd15 batches=12 samples=384 scaling_factor=0.18215 normalized_std=1.07 clamp_fraction=0.0012 nonfinite=3 firing=variance_drift")
    }

    @Test func fromFullStatus() throws {
        let status = try JSONValue(parsing: #"""
            {"name":"x","totals":{"batches":2,"samples":8,"elements":100,"nonfinite":{"nan":1,"posinf":2,"neginf":0}},
             "estimate":{"scaling_factor":0.5},"drift":{"normalized_std":0.99},"clamp":{"enabled":false,"fraction_window":null},
             "flags":[{"kind":"nonfinite","state":"firing","since":"2026-11-27T10:50:00Z","message":"3 nan"}]}
            """#)
        let s = StreamSummary(status: status)
        #expect(s.batches == 2 && s.nonfinite == 3 && s.scalingFactor == 0.5 && s.clampFraction == nil)
        #expect(s.firing.map(\.severity) == [.critical])
    }

    @Test func checkStatusIsTheWorstFiringSeverity() {
        #expect(CheckResult.status([]) == .ok)
        #expect(CheckResult.status([.warning]) == .warning)
        #expect(CheckResult.status([.warning, .critical]) == .critical)
        #expect(Severity(kind: "nonfinite", declared: nil) == .critical)
        #expect(Severity(kind: "variance_drift", declared: nil) == .warning)
        #expect(Severity(kind: "variance_drift", declared: "critical") == .critical)
        let flag = StreamSummary.Flag(kind: "nonfinite", state: "firing", message: "2 NaN", severity: .critical)
        #expect(CheckResult.line(status: .critical, firing: [("a", flag)], scope: nil) == "SCALED CRITICAL - 1 firing: a nonfinite: 2 NaN")
        #expect(CheckResult.line(status: .ok, firing: [], scope: "a") == "SCALED OK - no alerts firing on a")
    }

    @Test func exitStatusesAreTheDocumentedOnes() {
        #expect(ExitStatus.allCases.map(\.rawValue) == [0, 1, 2, 64, 65, 66, 69, 70, 73, 74, 75, 76])
        #expect(CLIError.fromDaemon(httpStatus: 404, code: "stream_not_found", message: "m", what: "w").status == .noInput)
        #expect(CLIError.fromDaemon(httpStatus: 409, code: "channel_mismatch", message: "m", what: "w").status == .dataError)
        #expect(CLIError.fromDaemon(httpStatus: 400, code: "invalid_stream_name", message: "m", what: "w").status == .usage)
        #expect(CLIError.fromDaemon(httpStatus: 409, code: "no_data", message: "m", what: "w").status == .dataError)
        #expect(CLIError.fromDaemon(httpStatus: 500, code: "internal", message: "m", what: "w").status == .software)
        #expect(CLIError.fromDaemon(httpStatus: 404, code: "not_found", message: "m", what: "w").status == .protocolError)
    }
}

@Suite("history chart and CSV")
struct HistoryTests {
    func points() -> [HistoryPoint] {
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        return (0..<200).map { i in
            HistoryPoint(seq: i + 1, step: i * 50, time: t0.addingTimeInterval(Double(i)),
                         normalizedStd: i >= 100 && i < 140 ? 1.2 : 1.0 + Double(i % 5) * 0.004,
                         clampFraction: i >= 150 ? 0.02 : 0.0002)
        }
    }

    @Test func fitsEightyColumnsAndMarksFiring() throws {
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        var chart = HistoryChart(points: points())
        chart.clampLimit = 0.001
        chart.periods = [FiringPeriod(kind: "variance_drift", start: t0.addingTimeInterval(103), end: t0.addingTimeInterval(142)),
                         FiringPeriod(kind: "clamp_out_of_range", start: t0.addingTimeInterval(153), end: nil)]
        let lines = chart.render()
        #expect(lines.allSatisfy { $0.count <= 80 }, "\(lines.map(\.count))")
        let firing = try #require(lines.first { $0.hasPrefix("  firing |") })
        let marks = Array(firing.dropFirst(10))
        // Step 5150 (batch 103) is in column 103*50/9950*69 ≈ 36.
        #expect(marks[36] == "V")
        #expect(marks[10] == " ")
        #expect(marks.last == "C")
        #expect(lines.contains { $0.contains("V variance drift") && $0.contains("C clamp") })
        #expect(lines.last { $0.hasPrefix("    step 0") }?.hasSuffix("9950") == true)
        // The target row is labelled and the excursion is drawn on the top row.
        #expect(lines.contains { $0.hasPrefix("       1 |") })
        #expect(lines.contains { $0.hasPrefix("   1.212 |") && $0.contains("*****") })
    }

    @Test func withoutStepsUsesBatchNumbers() {
        let pts = (1...3).map { HistoryPoint(seq: $0, step: nil, time: nil, normalizedStd: nil, clampFraction: nil) }
        let lines = HistoryChart(points: pts).render()
        #expect(lines.contains("normalized std: none yet (no reference normalization)"))
        #expect(lines.contains { $0.hasPrefix("   batch 1") && $0.hasSuffix("3") })
    }

    @Test func csvQuotesAndLeavesNullsEmpty() throws {
        let entries = try JSONValue(parsing: #"[{"seq":1,"step":null,"tag":"1024,1024","time":"t","samples":4,"mean":0.1,"std":5.5,"normalized_std":null,"clamp_fraction":0.0,"nonfinite":0}]"#).array!
        #expect(HistoryCSV.render(entries) == "seq,step,tag,time,samples,mean,std,normalized_std,clamp_fraction,nonfinite\n1,,\"1024,1024\",t,4,0.1,5.5,,0.0,0\n")
    }

    @Test func progressLine() {
        let line = ProgressBar.line(files: 50, totalFiles: 100, bytes: 5e6, totalBytes: 1e7, elapsed: 2, width: 10)
        #expect(line == "[#####·····] 50/100 files  2.5 MB/s  ETA 2.0s")
    }
}
