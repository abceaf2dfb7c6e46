import Foundation
import LatentStats
import Testing
@testable import StreamModel

/// Everything a push can change in a ``StreamState``, compared field by field
/// (the state holds summaries with floats, so it is not `Equatable` itself).
func sameState(_ a: StreamState, _ b: StreamState, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.window == b.window, sourceLocation: sourceLocation)
    #expect(a.windowSummary == b.windowSummary, sourceLocation: sourceLocation)
    #expect(a.recentSummary == b.recentSummary, sourceLocation: sourceLocation)
    #expect(a.sampleWindow == b.sampleWindow, sourceLocation: sourceLocation)
    #expect(a.cumulative == b.cumulative, sourceLocation: sourceLocation)
    #expect(a.clampSinceReference == b.clampSinceReference, sourceLocation: sourceLocation)
    #expect(a.buckets == b.buckets, sourceLocation: sourceLocation)
    #expect(a.alerts == b.alerts, sourceLocation: sourceLocation)
    #expect(a.frozen == b.frozen, sourceLocation: sourceLocation)
    #expect(a.referenceVersion == b.referenceVersion, sourceLocation: sourceLocation)
    #expect(a.meanBaseline == b.meanBaseline, sourceLocation: sourceLocation)
    #expect(a.channels == b.channels, sourceLocation: sourceLocation)
    #expect(a.seq == b.seq, sourceLocation: sourceLocation)
    #expect(a.lastPushAt == b.lastPushAt, sourceLocation: sourceLocation)
    #expect(a.updatedAt == b.updatedAt, sourceLocation: sourceLocation)
}

@Suite struct InPlaceApplyTests {
    /// Pushes that exercise every part a push changes: the window trims, the
    /// per-sample values get capped (1,500 samples a batch, window 4, cap
    /// 4,096), the estimate freezes when the window fills, NaN fires an
    /// alert, tags open buckets.
    static func pushes() throws -> [(WindowEntry, [SampleStat], String?)] {
        var g = Gaussian(seed: 17)
        return try (0..<9).map { i in
            var v = g.batch(samples: 1500, perSample: 2 * 4, mean: 0.2, std: 1 + 0.1 * Double(i % 3))
            if i == 6 { v[11] = .nan }
            let r = try BatchSummary.samplesOf(v, shape: [1500, 2, 4])
            return (WindowEntry(summary: r.summary, clamp: r.clamp, referenceVersion: 1), r.samples, i % 4 == 0 ? nil : "t\(i % 3)")
        }
    }

    static var config: StreamConfig {
        var c = StreamConfig()
        c.windowBatches = 4
        c.alertForBatches = 2
        return c
    }

    /// In place gives exactly what applying to a copy and evaluating the flags gave.
    @Test func inPlaceEqualsTheCopyingPath() throws {
        let t0 = Date(timeIntervalSince1970: 1_700_000_000)
        var copying = StreamState(name: "s", config: Self.config, now: t0)
        var inPlace = copying
        var copyingEvents: [AlertEvent] = [], inPlaceEvents: [AlertEvent] = []
        for (i, (e, samples, tag)) in try Self.pushes().enumerated() {
            let now = t0 + Double(i + 1)
            var entry = e
            entry.referenceVersion = copying.referenceVersion
            var next = copying
            let outliers = SampleOutliers.find(samples, window: copying.sampleWindow, config: copying.config)
            next.apply(entry, tag: tag, samples: samples, outliers: outliers, seq: Int64(i + 1), now: now)
            copyingEvents += next.evaluateFlags(latest: entry.summary, now: now) + next.evaluateDetailFlags(now: now)
            copying = next
            inPlaceEvents += inPlace.applyInPlace(entry, tag: tag, samples: samples, outliers: outliers, seq: Int64(i + 1), now: now).events
            sameState(inPlace, copying)
        }
        #expect(copying.frozen != nil)
        #expect(copying.alerts[.nonfinite]?.phase == .firing)
        #expect(inPlaceEvents == copyingEvents && !copyingEvents.isEmpty)
    }

    /// Undo after each push gives back the state before it exactly, whatever
    /// the push removed, trimmed, froze or fired.
    @Test func undoRestoresTheStateBeforeThePush() throws {
        let t0 = Date(timeIntervalSince1970: 1_700_000_000)
        var s = StreamState(name: "s", config: Self.config, now: t0)
        var undone = 0
        for (i, (e, samples, tag)) in try Self.pushes().enumerated() {
            let now = t0 + Double(i + 1)
            var entry = e
            entry.referenceVersion = s.referenceVersion
            let outliers = SampleOutliers.find(samples, window: s.sampleWindow, config: s.config)
            let before = s
            let applied = s.applyInPlace(entry, tag: tag, samples: samples, outliers: outliers, seq: Int64(i + 1), now: now)
            #expect(s.seq == Int64(i + 1))
            s.undo(applied.undo)
            sameState(s, before)
            undone += 1
            // Then apply it for real, so that the next push meets a fuller state.
            _ = s.applyInPlace(entry, tag: tag, samples: samples, outliers: outliers, seq: Int64(i + 1), now: now)
        }
        #expect(undone == 9)
        #expect(s.window.count == 4)
        // The cap cleared the values of the older batches: undo had to put them back.
        #expect(s.sampleWindow.batches.first?.means.isEmpty == true)
    }

    /// The window's and the recent batches' moments, re-merged in place on
    /// every push, are exactly the left fold that ``BatchSummary/merged(_:channels:sketch:)``
    /// gives, while the window fills (fewer, then more than the recent 10) and trims.
    @Test func windowRemergeIsTheLeftFold() throws {
        var g = Gaussian(seed: 5)
        var config = StreamConfig()
        config.windowBatches = 13
        var s = StreamState(name: "w", config: config, now: Date(timeIntervalSince1970: 0))
        for i in 0..<20 {
            let v = g.batch(samples: 3, perSample: 3 * 5, mean: Double(i % 4), std: 1 + 0.2 * Double(i % 5))
            let r = try BatchSummary.samplesOf(v, shape: [3, 3, 5])
            s.apply(WindowEntry(summary: r.summary, clamp: nil, referenceVersion: s.referenceVersion), seq: Int64(i + 1),
                    now: Date(timeIntervalSince1970: Double(i)))
            let all = BatchSummary.merged(s.window.map(\.summary), channels: 3, sketch: false)
            #expect(s.windowSummary == all, "push \(i)")
            #expect(s.windowSummary?.batches == min(i + 1, 13))
            let recent = s.window.count > DriftTest.recentBatches
                ? BatchSummary.merged(s.window.suffix(DriftTest.recentBatches).map(\.summary), channels: 3, sketch: false) : nil
            #expect(s.recentSummary == recent, "push \(i)")
        }
        #expect(s.recentSummary != nil)
    }
}
