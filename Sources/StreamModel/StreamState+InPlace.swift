import Foundation
import LatentStats

extension StreamState {
    /// How to take back one push applied by ``applyInPlace(_:tag:samples:outliers:seq:now:)``.
    ///
    /// It holds the state as it was with its two windows left out, and what
    /// the push removed from them: the windows are neither copied before the
    /// push nor rebuilt after a failed write.
    public struct PushUndo: Sendable {
        fileprivate var before: StreamState
        fileprivate var removedWindow: [WindowEntry]
        fileprivate var samples: SampleWindow.Undo
    }

    /// What applying a push in place returns.
    public struct AppliedPush: Sendable {
        /// Whether the reference was frozen automatically by this batch.
        public var froze: Bool
        public var findings: PushFindings
        /// The alert transitions the batch caused.
        public var events: [AlertEvent]
        /// Passed to ``undo(_:)`` if the push cannot be stored.
        public var undo: PushUndo
    }

    /// Applies one push in place, as ``apply(_:tag:samples:outliers:seq:now:)``
    /// followed by ``evaluateFlags(latest:now:)`` and ``evaluateDetailFlags(now:)``
    /// do, and returns how to take it back.
    ///
    /// Applying to a copy of the state instead made the window's storage
    /// shared, so that appending to it copied every entry on each push.
    public mutating func applyInPlace(_ entry: WindowEntry, tag: String?, samples: [SampleStat], outliers: [SampleOutlier],
                                      seq: Int64, now: Date) -> AppliedPush {
        let before = withoutWindows()
        let removedWindow = Array(window.prefix(Swift.max(0, window.count + 1 - config.windowBatches)))
        let froze = apply(entry, seq: seq, now: now)
        let (bucket, samplesUndo) = recordDetailsUndoably(entry, tag: tag, samples: samples, outliers: outliers.count)
        let events = evaluateFlags(latest: entry.summary, now: now) + evaluateDetailFlags(now: now)
        return AppliedPush(froze: froze, findings: PushFindings(outliers: outliers, bucket: bucket), events: events,
                           undo: PushUndo(before: before, removedWindow: removedWindow, samples: samplesUndo))
    }

    /// Puts the state back as it was before the push that returned `u`; the
    /// state must not have changed since.
    public mutating func undo(_ u: PushUndo) {
        var w = window, sw = sampleWindow
        window = []; sampleWindow = SampleWindow()
        w.removeLast()
        w.insert(contentsOf: u.removedWindow, at: 0)
        sw.undo(u.samples)
        self = u.before
        window = w; sampleWindow = sw
    }

    /// A copy of the state without its windows. The windows are taken out
    /// while copying, so that this state's storage of them stays unshared.
    private mutating func withoutWindows() -> StreamState {
        let w = window, sw = sampleWindow
        window = []; sampleWindow = SampleWindow()
        let copy = self
        window = w; sampleWindow = sw
        return copy
    }
}
