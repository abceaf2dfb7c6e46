import Foundation
import GRDB
import StreamModel

/// What every row type of the store shares: snake_case columns, dates as
/// REAL unix seconds (GRDB's default is text at millisecond precision), and
/// blobs that are never NULL.
public protocol StoreRecord: Codable, FetchableRecord, PersistableRecord {}

extension StoreRecord {
    public static var databaseColumnDecodingStrategy: DatabaseColumnDecodingStrategy { .convertFromSnakeCase }
    public static var databaseColumnEncodingStrategy: DatabaseColumnEncodingStrategy { .convertToSnakeCase }
    public static func databaseDateEncodingStrategy(for column: String) -> DatabaseDateEncodingStrategy { .timeIntervalSince1970 }
    public static func databaseDateDecodingStrategy(for column: String) -> DatabaseDateDecodingStrategy { .timeIntervalSince1970 }
    /// SQLite binds an empty blob as NULL (its buffer has no address); an
    /// empty string keeps NOT NULL columns valid and reads back as empty `Data`.
    public static func databaseDataEncodingStrategy(for column: String) -> DatabaseDataEncodingStrategy {
        .custom { $0.isEmpty ? "" : $0 }
    }
}

extension StreamRecord: StoreRecord {
    public static let databaseTableName = "streams"
}

extension JournalEntry: StoreRecord {
    public static let databaseTableName = "journal"
    /// Every column but the summary blob: what `history` reads.
    static let scalarColumns = """
        stream, seq, step, tag, time, samples, elements, nonfinite, \
        mean, std, normalized_std, clamp_fraction
        """
}

extension PeerRecord: StoreRecord {
    public static let databaseTableName = "peers"
}

extension Snapshot: StoreRecord {
    public static let databaseTableName = "snapshots"
}

/// The current state of one (stream, kind) alert: the `alerts` table.
struct CurrentAlert: StoreRecord {
    static let databaseTableName = "alerts"
    var transition: AlertTransition
    init(_ t: AlertTransition) { transition = t }
    init(from decoder: any Decoder) throws { transition = try AlertTransition(from: decoder) }
    func encode(to encoder: any Encoder) throws { try transition.encode(to: encoder) }
}

/// One stored alert transition: the `alert_events` log.
extension AlertTransition: StoreRecord {
    public static let databaseTableName = "alert_events"
}

extension AlertKind: DatabaseValueConvertible {}
extension AlertState: DatabaseValueConvertible {}
extension AlertSeverity: DatabaseValueConvertible {}

extension Database {
    func streamExists(_ name: String) throws -> Bool {
        try StreamRecord.exists(self, key: name)
    }

    func requireStream(_ name: String) throws {
        guard try streamExists(name) else { throw StoreError.unknownStream(name) }
    }

    /// The stream's last seq: of its journal, or of its latest snapshot when
    /// ``ScaleDatabase/pruneHistory(stream:keepingLast:)`` emptied the journal;
    /// 0 for a fresh stream.
    func lastSeq(_ stream: String) throws -> Int64 {
        let journal = try Int64.fetchOne(cachedStatement(sql: ScaleDatabase.lastSeqSQL), arguments: [stream]) ?? 0
        return max(journal, try latestSnapshotSeq(stream) ?? 0)
    }

    func latestSnapshotSeq(_ stream: String) throws -> Int64? {
        try Int64.fetchOne(
            cachedStatement(sql: "SELECT seq FROM snapshots WHERE stream = ? ORDER BY seq DESC LIMIT 1"),
            arguments: [stream])
    }

    func upsert(_ record: StreamRecord) throws {
        // created_at keeps the first value: a caller that rebuilds the record
        // from a new config must not make an old stream look new.
        _ = try record.upsertAndFetch(self, onConflict: ["name"]) { _ in [Column("created_at").noOverwrite] }
    }

    /// Deletes everything derived from the stream's batches.
    func clearStatistics(of stream: String) throws {
        for table in ["journal", "snapshots", "alert_events", "alerts", "peers"] {
            try execute(sql: "DELETE FROM \(table) WHERE stream = ?", arguments: [stream])
        }
    }
}

func requireNonNegative(_ value: Int, _ name: String) throws {
    if value < 0 { throw StoreError.negativeArgument(name: name, value: value) }
}
