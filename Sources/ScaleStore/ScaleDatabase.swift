import Foundation
import GRDB

/// The SQLite database of `scaled`: streams, the per-batch journal, snapshots
/// and alerts.
///
/// A file database is opened in WAL mode with `synchronous=FULL`: once a
/// write method returns, its transaction is in the write-ahead log and has
/// been fsynced, so it survives `kill -9` and power loss.
///
/// The store knows nothing of statistics: configs, states and summaries are
/// opaque blobs encoded by the caller. Every write method runs in one
/// transaction and changes nothing when it throws.
///
/// Methods are synchronous and thread-safe; writes are serialized, reads run
/// concurrently with writes and see the last committed transaction.
public final class ScaleDatabase: Sendable {
    let writer: any DatabaseWriter

    /// The database file, or `nil` for an in-memory database.
    public let path: String?

    /// Opens the database at `path`, creating it and its parent directories
    /// if needed, and migrates its schema.
    ///
    /// - Throws: ``StoreError/cannotOpen(path:reason:)`` when the file can't be
    ///   created, isn't a database, or was written by a newer schema.
    public convenience init(path: String) throws {
        let pool: DatabasePool
        do {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            pool = try DatabasePool(path: path, configuration: Self.configuration)
        } catch {
            throw StoreError.cannotOpen(path: path, reason: Self.reason(error))
        }
        try self.init(writer: pool, path: path)
    }

    /// Opens a fresh, empty database that lives in memory, for tests.
    public static func inMemory() throws -> ScaleDatabase {
        try ScaleDatabase(writer: DatabaseQueue(configuration: configuration), path: nil)
    }

    private init(writer: any DatabaseWriter, path: String?) throws {
        self.writer = writer
        self.path = path
        let shownPath = path ?? ":memory:"
        do {
            // GRDB switches a pool's writer to synchronous=NORMAL when it
            // enables WAL; NORMAL can lose the last commits on power loss,
            // and an acknowledged push must not be lost.
            try writer.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
            }
            let superseded = try writer.read { try Schema.migrator.hasBeenSuperseded($0) }
            if superseded {
                throw StoreError.cannotOpen(
                    path: shownPath,
                    reason: "the database was written by a newer version of scaled")
            }
            try Schema.migrator.migrate(writer)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.cannotOpen(path: shownPath, reason: Self.reason(error))
        }
    }

    private static var configuration: Configuration {
        var config = Configuration()
        config.label = "ScaleStore"
        // Another process (a second daemon by mistake, sqlite3 in a shell)
        // may hold the write lock for a moment; wait rather than fail a push.
        config.busyMode = .timeout(10)
        return config
    }

    private static func reason(_ error: any Error) -> String {
        if let error = error as? DatabaseError {
            return error.message ?? "\(error)"
        }
        return (error as NSError).localizedDescription
    }

    /// Closes the database. Later calls throw.
    ///
    /// Closing is optional (the connections close when the object goes away),
    /// but it reports errors and checkpoints the write-ahead log.
    public func close() throws {
        try writer.close()
    }

    /// The journal mode and synchronous setting of the writing connection,
    /// for logs and tests.
    public func durability() throws -> DurabilitySettings {
        try writer.writeWithoutTransaction { db in
            DurabilitySettings(
                journalMode: try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "",
                synchronous: try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1)
        }
    }

    /// The `detail` lines of `EXPLAIN QUERY PLAN sql`, so tests can check that
    /// the queries whose cost must not grow with the journal use an index.
    func queryPlan(_ sql: String, arguments: StatementArguments = []) throws -> [String] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map { $0["detail"] }
        }
    }
}
