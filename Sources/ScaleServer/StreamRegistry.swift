import Foundation
import Logging
import ScaleStore
import StreamModel

/// The streams `scaled` serves, by name.
actor StreamRegistry {
    let db: ScaleDatabase
    let logger: Logger
    let metrics: ScaleMetrics
    let notifier: AlertNotifier
    private var streams: [String: StreamActor] = [:]

    init(db: ScaleDatabase, logger: Logger, metrics: ScaleMetrics = ScaleMetrics(), alertCommand: String? = nil) {
        self.db = db; self.logger = logger; self.metrics = metrics
        self.notifier = AlertNotifier(command: alertCommand, logger: logger)
    }

    func makeActor(_ state: StreamState, persisted: Bool) -> StreamActor {
        StreamActor(state: state, persisted: persisted, db: db, logger: logger, metrics: metrics, notifier: notifier)
    }

    /// Restores every stored stream.
    ///
    /// - Throws: ``StreamPersistence/Damaged`` naming the file, the stream and
    ///   the field when a stored value does not parse.
    func load() throws {
        for record in try db.streams() {
            do {
                let state = try StreamPersistence.restore(record, from: db)
                streams[record.name] = makeActor(state, persisted: true)
            } catch var e as StreamPersistence.Damaged {
                e.database = db.path
                throw e
            }
        }
    }

    /// The stream if it exists (in the database, or created by a push in flight).
    func existing(_ name: String) async -> StreamActor? {
        guard let s = streams[name], await s.persisted else { return nil }
        return s
    }

    /// The stream, created in memory if needed; it is stored by its first successful change.
    func getOrCreate(_ name: String) -> StreamActor {
        if let s = streams[name] { return s }
        let s = makeActor(StreamState(name: name, now: Date()), persisted: false)
        streams[name] = s
        return s
    }

    /// Streams that exist, by name.
    func all() async -> [StreamActor] {
        var out: [StreamActor] = []
        for name in streams.keys.sorted() where await streams[name]!.persisted { out.append(streams[name]!) }
        return out
    }

    func delete(_ name: String) async throws(APIError) -> Bool {
        guard let s = streams[name] else { return false }
        let existed = await s.persisted
        await s.markDeleted()
        streams[name] = nil
        do { try db.deleteStream(named: name) } catch {
            throw APIError(.internalServerError, "storage_failed", "could not delete the stream: \(error)")
        }
        return existed
    }

    /// Snapshots every stream (on shutdown).
    func snapshotAll() async {
        for s in streams.values { await s.snapshot() }
    }
}
