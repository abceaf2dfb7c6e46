import Foundation
import LatentStats

/// One applied batch as the rolling window keeps it.
public struct WindowEntry: Sendable, Equatable {
    public var summary: BatchSummary
    /// The clamp count, taken under reference version `referenceVersion`.
    public var clamp: ClampCount?
    public var referenceVersion: UInt64

    public init(summary: BatchSummary, clamp: ClampCount?, referenceVersion: UInt64) {
        self.summary = summary; self.clamp = clamp; self.referenceVersion = referenceVersion
    }
}

/// Where the reference in use came from.
public enum ReferenceSource: String, Sendable, Codable {
    /// Set by the user in the stream's config.
    case declared
    /// The estimate, frozen by `freeze` or automatically when the window first filled.
    case frozen
}

/// A frozen reference: the estimate at the time it was frozen.
public struct FrozenReference: Sendable, Equatable {
    public var reference: Reference
    public var frozenAt: Date

    public init(reference: Reference, frozenAt: Date) { self.reference = reference; self.frozenAt = frozenAt }
}

/// Everything `scaled` knows about one stream. Pure: applying a batch and
/// rendering status do no I/O, so restart can rebuild it exactly by replaying.
public struct StreamState: Sendable {
    public let name: String
    public var config: StreamConfig
    public var createdAt: Date
    public var updatedAt: Date
    public var lastPushAt: Date?
    /// Fixed by the first push; later pushes must match.
    public var channels: Int?
    public var cumulative: BatchSummary?
    public internal(set) var window: [WindowEntry] = []
    /// The window's batches merged, without their quantile sketch: the drift
    /// tests and metrics need only moments, and merging sketches on every push
    /// was a sixth of the push cost. ``windowSummaryWithSketch`` adds it.
    public private(set) var windowSummary: BatchSummary?
    /// The window's newest ``DriftTest/recentBatches`` batches, merged (nil until the window holds more).
    public private(set) var recentSummary: BatchSummary?
    public var frozen: FrozenReference?
    /// Bumped whenever the reference in use or the clamp range changes.
    public var referenceVersion: UInt64 = 1
    /// Clamp counts of every batch since the reference in use took effect.
    public var clampSinceReference: ClampCount?
    /// Journal sequence number of the last applied batch.
    public var seq: Int64 = 0
    /// Each flag's lifecycle.
    public var alerts: [AlertKind: AlertMachine] = [:]
    /// The normalized mean when a declared, unshifted reference was first evaluated.
    public var meanBaseline: Double?
    /// Other nodes' latest summaries, by peer name (`scope=global`).
    public var peers: [String: PeerSummary] = [:]
    /// Per-tag cumulative statistics (`Buckets.swift`).
    public var buckets = BucketTable()
    /// The window's per-sample values and outlier counts (`SampleOutliers.swift`).
    public var sampleWindow = SampleWindow()

    public init(name: String, config: StreamConfig = StreamConfig(), now: Date) {
        self.name = name; self.config = config; createdAt = now; updatedAt = now
    }

    /// The reference in use: the declared one, else the frozen one.
    public var reference: Reference? { config.reference ?? frozen?.reference }
    /// Where the reference in use came from.
    public var referenceSource: ReferenceSource? { config.reference != nil ? .declared : (frozen != nil ? .frozen : nil) }

    /// The normalizer pushes are counted against, for a tensor of `channels` channels.
    public func normalizer(channels: Int) -> AffineNormalizer? {
        reference?.normalizer(channels: channels, range: config.clipSampleRange)
    }

    /// Applies a config change; a change of reference or clamp range starts a new reference version.
    public mutating func setConfig(_ new: StreamConfig, now: Date) {
        let changesReference = new.reference != config.reference || new.clipSampleRange != config.clipSampleRange
        config = new
        if changesReference { bumpReference() }
        if window.count > config.windowBatches { window.removeFirst(window.count - config.windowBatches); rebuildWindowSummary() }
        updatedAt = now
    }

    /// Starts a new reference version: clamp counts and the mean baseline start over.
    public mutating func bumpReference() {
        referenceVersion &+= 1
        clampSinceReference = nil
        meanBaseline = nil
    }

    /// Freezes the current estimate (shift mode, std) as the reference.
    public mutating func freeze(now: Date) throws(NormalizationError) {
        guard let cumulative else { throw .noData }
        let n = try cumulative.normalization(mode: .shift, method: .std, targetStd: config.targetStd)
        frozen = FrozenReference(reference: .scalar(scalingFactor: n.scalingFactor, shiftFactor: n.shiftFactor ?? 0), frozenAt: now)
        if config.reference == nil { bumpReference() }
        updatedAt = now
    }

    /// Clears statistics (and a frozen reference, which came from them, and the
    /// peers' summaries); keeps config.
    public mutating func reset(now: Date) {
        channels = nil; cumulative = nil; window = []; windowSummary = nil
        peers = [:]
        buckets = BucketTable(); sampleWindow = SampleWindow()
        lastPushAt = nil
        alerts = [:]
        if frozen != nil { frozen = nil; bumpReference() }
        clampSinceReference = nil
        updatedAt = now
    }

    /// Applies one batch: the short serial step after the summary was computed.
    /// - Returns: whether the reference was frozen automatically by this batch.
    @discardableResult
    public mutating func apply(_ entry: WindowEntry, seq: Int64, now: Date) -> Bool {
        var entry = entry
        if entry.referenceVersion != referenceVersion { entry.clamp = nil }
        channels = entry.summary.channels
        if cumulative == nil { cumulative = BatchSummary(channels: entry.summary.channels) }
        cumulative!.merge(entry.summary)
        if let c = entry.clamp {
            if clampSinceReference == nil { clampSinceReference = ClampCount(range: c.range) }
            clampSinceReference!.merge(c)
        }
        window.append(entry)
        if window.count > config.windowBatches { window.removeFirst(window.count - config.windowBatches) }
        rebuildWindowSummary()
        self.seq = seq
        lastPushAt = now
        updatedAt = now
        // Nothing declared: freeze the estimate once the window first fills.
        if reference == nil, window.count >= config.windowBatches, (try? freeze(now: now)) != nil {
            return true
        }
        return false
    }

    /// Restores the window from journal entries (oldest first) without touching cumulative.
    public mutating func restoreWindow(_ entries: [WindowEntry]) {
        window = Array(entries.suffix(config.windowBatches))
        rebuildWindowSummary()
    }

    /// Re-merges the window's moments (and the recent batches') after the window changed.
    public mutating func rebuildWindowSummary() {
        guard let first = window.first else { windowSummary = nil; recentSummary = nil; return }
        // BatchSummary.merged(_:channels:sketch:) oldest first, written out:
        // through the generic entry point each element was copied (a retain
        // per array) and its type's metadata looked up.
        let c = first.summary.channels, recent = DriftTest.recentBatches
        var all = BatchSummary(channels: c), last = BatchSummary(channels: c)
        window.withUnsafeBufferPointer { w in
            for i in w.indices { all.mergeMoments(w[i].summary) }
            if w.count > recent { for i in (w.count - recent)..<w.count { last.mergeMoments(w[i].summary) } }
        }
        windowSummary = all
        recentSummary = window.count > recent ? last : nil
    }

    /// The window's summary including its quantile sketch (for status).
    public var windowSummaryWithSketch: BatchSummary? {
        guard var w = windowSummary else { return nil }
        w.sketch = QuantileSketch.merged(window.lazy.map(\.summary.sketch))
        return w
    }

    /// The window's clamp share alone (no sketch merge), for metrics and listings.
    public var windowClampFraction: Double? {
        var elements = 0, outside = 0
        for e in window where e.referenceVersion == referenceVersion {
            guard let c = e.clamp else { continue }
            elements += c.elements; outside += c.outside
        }
        return elements > 0 ? Double(outside) / Double(elements) : nil
    }

    /// Clamp counts over the window's batches taken under the current reference.
    public var windowClamp: ClampCount? {
        let counted = window.compactMap { $0.referenceVersion == referenceVersion ? $0.clamp : nil }
        guard let first = counted.first else { return nil }
        return ClampCount(range: first.range, elements: counted.reduce(0) { $0 + $1.elements },
                          outside: counted.reduce(0) { $0 + $1.outside },
                          absSketch: QuantileSketch.merged(counted.lazy.map(\.absSketch)))
    }

    /// The estimate reported in status and push responses: shift mode, std.
    public var estimate: Normalization? {
        try? cumulative?.normalization(mode: .shift, method: .std, targetStd: config.targetStd)
    }

    /// Merges a journalled batch into cumulative totals only (restart replay).
    public mutating func replay(_ e: WindowEntry) {
        if cumulative == nil { cumulative = BatchSummary(channels: e.summary.channels) }
        cumulative!.merge(e.summary)
        if e.referenceVersion == referenceVersion, let c = e.clamp {
            if clampSinceReference == nil { clampSinceReference = ClampCount(range: c.range) }
            clampSinceReference!.merge(c)
        }
    }

    /// Per-channel normalized moments of `summary` under the reference in use.
    public func normalizedMoments(_ summary: BatchSummary) -> (mean: Double, std: Double, channelStd: [Double])? {
        guard let n = normalizer(channels: summary.channels) else { return nil }
        var total = Moments.empty
        var channelStd: [Double] = []
        for c in 0..<summary.channels {
            let m = summary.perChannel[c]
            guard m.count > 0 else { channelStd.append(.nan); continue }
            let k = n.scale[c]
            let y = Moments(count: m.count, mean: (m.mean - n.shift[c]) * k, m2: m.m2 * k * k,
                            m3: m.m3 * k * k * k, m4: m.m4 * k * k * k * k,
                            min: Swift.min((m.min - n.shift[c]) * k, (m.max - n.shift[c]) * k),
                            max: Swift.max((m.min - n.shift[c]) * k, (m.max - n.shift[c]) * k))
            channelStd.append(y.std ?? .nan)
            total.merge(y)
        }
        guard let std = total.std else { return nil }
        return (total.mean, std, channelStd)
    }
}
