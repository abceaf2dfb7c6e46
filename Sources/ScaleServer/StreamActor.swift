import Foundation
import LatentStats
import Logging
import ScaleStore
import StreamModel

/// Metadata of one push.
public struct PushMeta: Sendable {
    public var step: Int64?
    public var tag: String?
    public init(step: Int64? = nil, tag: String? = nil) { self.step = step; self.tag = tag }
}

/// Serializes every change to one stream and makes each durable before it is acknowledged.
///
/// Summaries are computed outside the actor, in parallel; `apply` is the short
/// serial step: one SQLite transaction (journal row + stream row), then the
/// in-memory state. If the transaction fails, memory is left as it was.
actor StreamActor {
    let db: ScaleDatabase
    let logger: Logger
    let metrics: ScaleMetrics
    let notifier: AlertNotifier
    private(set) var state: StreamState
    /// Whether the stream exists in the database (a push that failed never creates it).
    private(set) var persisted: Bool
    private(set) var deleted = false
    private var batchesSinceSnapshot = 0
    static let snapshotEvery = 256
    static let historyRows = 100_000
    /// The format of the journal rows and snapshots this actor writes (tests
    /// write version 1, as older builds did).
    let storageFormat: SummaryFormat

    init(state: StreamState, persisted: Bool, db: ScaleDatabase, logger: Logger,
         metrics: ScaleMetrics = ScaleMetrics(), notifier: AlertNotifier? = nil,
         storageFormat: SummaryFormat = StreamPersistence.storageFormat) {
        self.state = state; self.persisted = persisted; self.db = db; self.logger = logger
        self.storageFormat = storageFormat
        self.metrics = metrics
        self.notifier = notifier ?? AlertNotifier(command: nil, logger: logger)
        if persisted { metrics.update(state) }
    }

    /// Checks a push against the stream before its summary is computed, and
    /// returns the normalizer to count clamping against.
    func prepare(channels: Int) throws(APIError) -> (AffineNormalizer?, UInt64) {
        try checkChannels(channels)
        return (state.normalizer(channels: channels), state.referenceVersion)
    }

    func checkChannels(_ channels: Int) throws(APIError) {
        if deleted { throw APIError(.conflict, "stream_deleted", "stream '\(state.name)' was deleted while the push was in flight; push again to recreate it") }
        if let c = state.channels, c != channels {
            throw APIError(.conflict, "channel_mismatch", "stream '\(state.name)' has \(c) channels but this tensor has \(channels) along channel_axis; check channel_axis, or push to another stream (or reset this one)")
        }
        if let rc = state.reference?.channelCount, rc != channels {
            throw APIError(.conflict, "channel_mismatch", "the reference of stream '\(state.name)' has \(rc) channels but this tensor has \(channels); fix reference.latents_mean/latents_std with PUT")
        }
        if let (peer, p) = state.peers.first(where: { $0.value.summary.channels != channels }) {
            throw APIError(.conflict, "channel_mismatch", "stream '\(state.name)' holds a summary of peer '\(peer)' with \(p.summary.channels) channels but this one has \(channels); the nodes are not pushing the same latents (remove the peer with DELETE /v1/streams/\(state.name)/peers/\(peer))")
        }
    }

    /// Applies a computed batch durably. Returns the push response.
    ///
    /// All or nothing: when the write fails, the state in memory is as it was.
    func apply(_ entry: WindowEntry, samples: [SampleStat] = [], outliers: [SampleOutlier]? = nil, meta: PushMeta, now: Date) throws(APIError) -> JSONValue {
        try checkChannels(entry.summary.channels)
        var entry = entry
        if entry.referenceVersion != state.referenceVersion { entry.clamp = nil }
        let seq = state.seq + 1
        let outliers = outliers ?? SampleOutliers.find(samples, window: state.sampleWindow, config: state.config)
        // In place, not on a copy: a copy would share the window's storage
        // and make the append copy every entry. A failed write is undone.
        let applied = state.applyInPlace(entry, tag: meta.tag, samples: samples, outliers: outliers, seq: seq, now: now)
        let (froze, findings, events) = (applied.froze, applied.findings, applied.events)
        let s = entry.summary
        let normalized = state.normalizedMoments(s)
        let journal = JournalEntry(
            stream: state.name, seq: seq, step: meta.step, tag: meta.tag, time: now,
            samples: s.samples, elements: s.elements, nonfinite: s.nonfiniteCount,
            mean: s.total.count > 0 ? s.total.mean : nil, std: s.total.std,
            normalizedStd: normalized?.std, clampFraction: entry.clamp?.fraction,
            summary: StreamPersistence.encode(entry, details: state.sampleWindow.batches.last!, format: storageFormat))
        do {
            // The first push creates the row; later ones change only its state.
            if persisted {
                try db.append(journal, updatingState: StreamPersistence.stateUpdate(state))
            } else {
                try db.append(journal, updating: StreamPersistence.record(state))
            }
        } catch {
            state.undo(applied.undo)
            logger.error("could not store a batch", metadata: ["stream": "\(state.name)", "error": "\(error)"])
            throw APIError(.internalServerError, "storage_failed", "the batch could not be stored (\(error)); it was not applied — retry, and check the disk holding the database")
        }
        persisted = true
        if froze { logger.info("froze the estimate as the reference", metadata: ["stream": "\(state.name)"]) }
        announce(events, now: now)
        metrics.update(state)
        batchesSinceSnapshot += 1
        if batchesSinceSnapshot >= Self.snapshotEvery { snapshot() }
        return .object([
            ("stream", .string(state.name)),
            ("accepted", .object([("samples", .int(s.samples)), ("elements", .int(s.elements)),
                                  ("nonfinite", .int(s.nonfiniteCount))])),
            ("totals", .object([("batches", .int(state.cumulative?.batches ?? 0)),
                                ("samples", .int(state.cumulative?.samples ?? 0)),
                                ("elements", .int(state.cumulative?.elements ?? 0))])),
            ("normalization", state.estimate?.json ?? .null),
            ("flags", .array(state.activeFlags() + events.filter { $0.transition.state == .resolved }.map { e in
                state.flagJSON(e.kind, state: "resolved", since: e.transition.since, message: e.transition.message,
                               value: e.transition.value)
            })),
        ] + Self.findingsJSONPairs(findings, samples: samples))
    }

    /// Stores, logs and passes on alert transitions.
    private func announce(_ events: [AlertEvent], now: Date) {
        guard !events.isEmpty else { return }
        for e in events {
            let t = e.transition
            do {
                try db.record(AlertTransition(stream: e.stream, kind: e.kind, state: t.state, since: t.since,
                                              resolvedAt: t.resolvedAt, message: t.message, value: t.value.flatMap { $0.isFinite ? $0 : nil },
                                              severity: e.kind.severity, at: now))
            } catch {
                logger.error("could not store an alert transition", metadata: ["stream": "\(e.stream)", "error": "\(error)"])
            }
            let meta: Logger.Metadata = ["stream": "\(e.stream)", "alert": "\(e.kind.rawValue)", "state": "\(t.state.rawValue)"]
            if t.state == .firing { logger.warning("\(t.message)", metadata: meta) } else { logger.info("alert \(t.state.rawValue)", metadata: meta) }
        }
        let notifier = self.notifier
        Task { await notifier.notify(events) }
    }

    /// Writes a snapshot so that restart replays only the journal after it.
    func snapshot() {
        guard persisted, !deleted, state.seq > 0 else { return }
        do {
            try db.writeSnapshot(Snapshot(stream: state.name, seq: state.seq, time: Date(),
                                          state: StreamPersistence.snapshotBlobWithBuckets(state, format: storageFormat)),
                                 keepSummariesOfLast: state.config.windowBatches)
            try db.pruneHistory(stream: state.name, keepingLast: Self.historyRows)
            batchesSinceSnapshot = 0
        } catch {
            logger.warning("could not write a snapshot", metadata: ["stream": "\(state.name)", "error": "\(error)"])
        }
    }

    func status(scope: StatisticsScope = .local) -> JSONValue {
        state.statusJSON(flags: .array(state.activeFlags()), scope: scope)
    }
    func listEntry() -> JSONValue { state.listEntryJSON(flags: .array(state.activeFlags())) }

    func normalization(mode: NormalizationMode, method: NormalizationMethod, diffusers: Bool,
                       scope: StatisticsScope = .local) throws(APIError) -> JSONValue {
        guard let c = state.cumulative(scope) else { throw APIError(NormalizationError.noData) }
        do {
            let n = try c.normalization(mode: mode, method: method, targetStd: state.config.targetStd)
            return diffusers ? n.diffusersJSON : n.json
        } catch { throw APIError(error) }
    }

    func configure(_ patch: JSONValue, now: Date) throws(APIError) -> JSONValue {
        let config = try state.config.applying(patch)
        if let rc = config.reference?.channelCount, let c = state.channels, rc != c {
            throw .badRequest("invalid_config", "reference has \(rc) channels but stream '\(state.name)' has \(c); give one latents_mean/latents_std value per channel")
        }
        var next = state
        next.setConfig(config, now: now)
        try persist(next)
        return status()
    }

    func freeze(now: Date) throws(APIError) -> JSONValue {
        var next = state
        do { try next.freeze(now: now) } catch { throw APIError(error) }
        try persist(next)
        return status()
    }

    func reset(now: Date) throws(APIError) -> JSONValue {
        var next = state
        next.reset(now: now)
        do {
            try db.resetStream(named: state.name, updating: StreamPersistence.record(next))
            next.seq = try db.lastSeq(stream: state.name)
        } catch {
            throw APIError(.internalServerError, "storage_failed", "could not reset the stream: \(error)")
        }
        state = next
        batchesSinceSnapshot = 0
        metrics.remove(state.name)
        metrics.update(state)
        return status()
    }

    func markDeleted() {
        deleted = true
        metrics.remove(state.name)
    }

    func persist(_ next: StreamState) throws(APIError) {
        do { try db.upsertStream(StreamPersistence.record(next)) } catch {
            throw APIError(.internalServerError, "storage_failed", "could not store the change: \(error)")
        }
        commit(next)
    }

    /// Makes a stored change the state in memory.
    func commit(_ next: StreamState) {
        state = next
        persisted = true
        metrics.update(state)
    }
}

extension StreamActor {
    /// `GET …/history`: the newest `limit` journal rows, oldest first.
    func history(limit: Int) throws(APIError) -> JSONValue {
        let rows: [JournalEntry]
        do { rows = try db.history(stream: state.name, limit: limit) } catch {
            throw APIError(.internalServerError, "storage_failed", "could not read the history: \(error)")
        }
        return Self.historyJSON(stream: state.name, rows: rows)
    }
}
