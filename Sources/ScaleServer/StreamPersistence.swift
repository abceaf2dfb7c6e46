import Foundation
import LatentStats
import ScaleStore

/// How stream state maps onto ScaleStore's rows and blobs.
enum StreamPersistence {
    /// Journal blob: reference version, summary, optional clamp count.
    static func encode(_ e: WindowEntry) -> Data {
        var w = ByteWriter()
        w.u64(e.referenceVersion)
        w.block(e.summary.encoded())
        w.block(e.clamp?.encoded() ?? [])
        return Data(w.bytes)
    }

    static func decodeEntry(_ data: Data) throws -> WindowEntry {
        var r = ByteReader([UInt8](data))
        let version = try r.u64()
        let summary = try BatchSummary(encoded: try r.block())
        let clamp = try r.block()
        return WindowEntry(summary: summary, clamp: clamp.isEmpty ? nil : try ClampCount(encoded: clamp),
                           referenceVersion: version)
    }

    /// Snapshot blob: cumulative summary and the clamp count since the reference, with its version.
    static func snapshotBlob(_ s: StreamState) -> Data {
        guard let cumulative = s.cumulative else { return Data() }
        return encode(WindowEntry(summary: cumulative, clamp: s.clampSinceReference, referenceVersion: s.referenceVersion))
    }

    /// The stream row's `state` JSON: what is not derivable from the journal.
    static func stateJSON(_ s: StreamState) -> Data {
        var frozen: JSONValue = .null
        if let f = s.frozen {
            frozen = .object([("reference", f.reference.json), ("frozen_at", .number(f.frozenAt.timeIntervalSince1970))])
        }
        let alerts: [(String, JSONValue)] = s.alerts.sorted { $0.key.rawValue < $1.key.rawValue }.map { kind, m in
            (kind.rawValue, .object([
                ("phase", .string(m.phase.rawValue)),
                ("consecutive", .int(m.consecutive)),
                ("since", m.since.map { .number($0.timeIntervalSince1970) } ?? .null),
                ("message", .string(m.message)),
                ("value", .num(m.value)),
            ]))
        }
        return JSONValue.object([
            ("alerts", .object(alerts)),
            ("mean_baseline", .num(s.meanBaseline)),
            ("channels", s.channels.map { .int($0) } ?? .null),
            ("frozen", frozen),
            ("reference_version", .int(Int(s.referenceVersion))),
            ("last_push_at", s.lastPushAt.map { .number($0.timeIntervalSince1970) } ?? .null),
        ]).encoded()
    }

    static func record(_ s: StreamState) -> StreamRecord {
        StreamRecord(name: s.name, config: s.config.json.encoded(), state: stateJSON(s),
                     createdAt: s.createdAt, updatedAt: s.updatedAt)
    }

    /// Rebuilds a stream exactly: row, latest snapshot, journal after it, last window of entries.
    static func restore(_ record: StreamRecord, from db: ScaleDatabase) throws -> StreamState {
        var s = StreamState(name: record.name, config: StreamConfig.stored(record.config), now: record.createdAt)
        s.createdAt = record.createdAt
        s.updatedAt = record.updatedAt
        if let v = try? JSONValue.parse(record.state) {
            if case .int(let c)? = v["channels"] { s.channels = c }
            if case .int(let rv)? = v["reference_version"] { s.referenceVersion = UInt64(rv) }
            if let t = v["last_push_at"]?.doubleValue { s.lastPushAt = Date(timeIntervalSince1970: t) }
            s.meanBaseline = v["mean_baseline"]?.doubleValue
            if case .object(let pairs)? = v["alerts"] {
                for (key, m) in pairs {
                    guard let kind = AlertKind(rawValue: key), case .string(let p)? = m["phase"],
                          let phase = AlertPhase(rawValue: p) else { continue }
                    var consecutive = 0
                    if case .int(let c)? = m["consecutive"] { consecutive = c }
                    var message = ""
                    if case .string(let t)? = m["message"] { message = t }
                    s.alerts[kind] = AlertMachine(phase: phase, consecutive: consecutive,
                                                  since: m["since"]?.doubleValue.map { Date(timeIntervalSince1970: $0) },
                                                  message: message, value: m["value"]?.doubleValue)
                }
            }
            if let f = v["frozen"], f != .null, let refJSON = f["reference"],
               let ref = try? Reference(json: refJSON), let at = f["frozen_at"]?.doubleValue {
                s.frozen = FrozenReference(reference: ref, frozenAt: Date(timeIntervalSince1970: at))
            }
        }
        var after: Int64 = 0
        if let snap = try db.latestSnapshot(stream: record.name), !snap.state.isEmpty {
            let e = try decodeEntry(snap.state)
            s.cumulative = e.summary
            s.clampSinceReference = e.referenceVersion == s.referenceVersion ? e.clamp : nil
            after = snap.seq
        }
        for j in try db.journal(stream: record.name, after: after) {
            guard let blob = j.summary else { continue }
            s.replay(try decodeEntry(blob))
        }
        let windowRows = try db.lastEntries(stream: record.name, count: s.config.windowBatches)
        s.restoreWindow(try windowRows.compactMap { try $0.summary.map(decodeEntry) })
        s.seq = try db.lastSeq(stream: record.name)
        return s
    }
}

extension StreamState {
    /// Merges a journalled batch into cumulative totals only (restart replay).
    mutating func replay(_ e: WindowEntry) {
        if cumulative == nil { cumulative = BatchSummary(channels: e.summary.channels) }
        cumulative!.merge(e.summary)
        if e.referenceVersion == referenceVersion, let c = e.clamp {
            if clampSinceReference == nil { clampSinceReference = ClampCount(range: c.range) }
            clampSinceReference!.merge(c)
        }
    }
}
