import Foundation
import LatentStats
import ScaleStore
import StreamModel

/// How stream state maps onto ScaleStore's rows and blobs.
///
/// The stream row holds two JSON documents: `config` (``StoredConfig``, the
/// API's config object) and `state` (``StoredState``: what the journal cannot
/// rebuild). Summaries are binary blocks (`BatchSummary.encoded(_:)`, in
/// ``storageFormat``; older databases hold version 1, which still loads).
enum StreamPersistence {
    /// A stored value that does not parse: `scaled` refuses to start rather
    /// than fall back to a default and lose, say, a frozen reference.
    struct Damaged: Error, CustomStringConvertible {
        var stream: String
        var field: String
        var reason: String
        /// Filled in by the registry, which knows the file.
        var database: String?

        var description: String {
            "the database \(database ?? "(in memory)") is damaged: stream '\(stream)' has a stored \(field) that does not parse (\(reason)). "
                + "Nothing was changed. Restore the file from a backup, or move it aside to start with an empty database, "
                + "or try `sqlite3 \(database ?? "FILE") .recover`, or fix the value with sqlite3 (for example `sqlite3 \(database ?? "FILE") \"SELECT \(field.hasPrefix("config") ? "config" : "state") FROM streams WHERE name = '\(stream)'\"`)"
        }
    }

    /// The format journal rows and snapshots are written in. Restart reads
    /// both: each stored summary carries its version, and the clamp count
    /// beside it is in the same format.
    static let storageFormat: SummaryFormat = .compact

    /// Journal blob: reference version, summary, optional clamp count.
    static func encode(_ e: WindowEntry, format: SummaryFormat = storageFormat) -> Data {
        var w = ByteWriter()
        w.u64(e.referenceVersion)
        w.block(e.summary.encoded(format))
        w.block(e.clamp?.encoded(format) ?? [])
        return Data(w.bytes)
    }

    static func decodeEntry(_ data: Data) throws -> WindowEntry {
        var r = ByteReader([UInt8](data))
        return try readEntry(&r)
    }

    /// Reads reference version, summary and clamp count, each in the format the summary names.
    static func readEntry(_ r: inout ByteReader) throws -> WindowEntry {
        let version = try r.u64()
        let (summary, format) = try readSummary(&r)
        let clamp = try r.block()
        return WindowEntry(summary: summary, clamp: clamp.isEmpty ? nil : try ClampCount(encoded: clamp, format: format),
                           referenceVersion: version)
    }

    /// A summary block and the format it was written in.
    static func readSummary(_ r: inout ByteReader) throws -> (BatchSummary, SummaryFormat) {
        let bytes = try r.block()
        let summary = try BatchSummary(encoded: bytes)
        return (summary, SummaryFormat(of: bytes) ?? .fixed)   // decoding checked the version
    }

    /// Snapshot blob: cumulative summary and the clamp count since the reference, with its version.
    static func snapshotBlob(_ s: StreamState, format: SummaryFormat = storageFormat) -> Data {
        guard let cumulative = s.cumulative else { return Data() }
        return encode(WindowEntry(summary: cumulative, clamp: s.clampSinceReference, referenceVersion: s.referenceVersion),
                      format: format)
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        return e
    }()

    static func record(_ s: StreamState) -> StreamRecord {
        // Both types hold only finite numbers and strings: encoding cannot fail.
        StreamRecord(name: s.name, config: try! encoder.encode(StoredConfig(s.config)),
                     state: StoredState(s).encoded(), createdAt: s.createdAt, updatedAt: s.updatedAt)
    }

    /// What a push to a stream already stored changes in its row: the state
    /// document and `updatedAt`, not the config.
    static func stateUpdate(_ s: StreamState) -> StreamStateUpdate {
        StreamStateUpdate(name: s.name, state: StoredState(s).encoded(), updatedAt: s.updatedAt)
    }

    /// Decodes one stored document, naming the field that failed.
    static func decode<T: Decodable>(_: T.Type, _ data: Data, stream: String, field: String) throws -> T {
        do { return try JSONDecoder().decode(T.self, from: data) } catch let DecodingError.dataCorrupted(c) {
            throw Damaged(stream: stream, field: field + c.codingPath.path, reason: c.debugDescription)
        } catch let DecodingError.keyNotFound(key, c) {
            throw Damaged(stream: stream, field: field + (c.codingPath + [key]).path, reason: "missing")
        } catch let DecodingError.typeMismatch(_, c) {
            throw Damaged(stream: stream, field: field + c.codingPath.path, reason: c.debugDescription)
        } catch let DecodingError.valueNotFound(_, c) {
            throw Damaged(stream: stream, field: field + c.codingPath.path, reason: "null where a value is required")
        } catch {
            throw Damaged(stream: stream, field: field, reason: "\(error)")
        }
    }

    /// Rebuilds a stream exactly: row, latest snapshot, journal after it, last window of entries.
    ///
    /// - Throws: ``Damaged`` when a stored value does not parse; never falls back to defaults.
    static func restore(_ record: StreamRecord, from db: ScaleDatabase) throws -> StreamState {
        let config = try decode(StoredConfig.self, record.config, stream: record.name, field: "config").config
        let stored = try decode(StoredState.self, record.state, stream: record.name, field: "state")
        var s = StreamState(name: record.name, config: config, now: record.createdAt)
        s.createdAt = record.createdAt
        s.updatedAt = record.updatedAt
        stored.apply(to: &s)
        var after: Int64 = 0
        if let snap = try db.latestSnapshot(stream: record.name), !snap.state.isEmpty {
            let e = try blob(snap.state, stream: record.name, field: "snapshot at seq \(snap.seq)")
            s.cumulative = e.summary
            s.clampSinceReference = e.referenceVersion == s.referenceVersion ? e.clamp : nil
            do { s.buckets = try decodeBuckets(snap.state) } catch {
                throw Damaged(stream: record.name, field: "snapshot buckets at seq \(snap.seq)", reason: "\(error)")
            }
            after = snap.seq
        }
        for j in try db.journal(stream: record.name, after: after) {
            guard let data = j.summary else { continue }
            let (e, details) = try detailsBlob(data, stream: record.name, field: "journal summary at seq \(j.seq)")
            s.replay(e)
            s.recordBucket(e, tag: j.tag, checkedSamples: details?.samples ?? e.summary.samples, outliers: details?.outliers ?? 0)
        }
        let windowRows = try db.lastEntries(stream: record.name, count: s.config.windowBatches)
        let restored = try windowRows.compactMap { row in
            try row.summary.map { try detailsBlob($0, stream: record.name, field: "journal summary at seq \(row.seq)") }
        }
        s.restoreWindow(restored.map(\.0))
        s.sampleWindow.restore(restored.map { e, d in
            d ?? SampleWindow.Batch(means: [], stds: [], samples: e.summary.samples, outliers: 0)
        }, keep: s.config.windowBatches)
        s.seq = try db.lastSeq(stream: record.name)
        for p in try db.peers(stream: record.name) {
            do {
                s.peers[p.peer] = PeerSummary(summary: try BatchSummary(validating: [UInt8](p.summary)), updatedAt: p.updatedAt)
            } catch {
                throw Damaged(stream: record.name, field: "summary of peer '\(p.peer)'", reason: "\(error)")
            }
        }
        return s
    }

    static func blob(_ data: Data, stream: String, field: String) throws -> WindowEntry {
        do { return try decodeEntry(data) } catch {
            throw Damaged(stream: stream, field: field, reason: "\(error)")
        }
    }
}

private extension [any CodingKey] {
    var path: String { map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined() }
}
