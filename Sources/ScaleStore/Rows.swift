import Foundation
import GRDB

// Row mapping is written out by hand: dates are REAL unix seconds (GRDB's
// default Date encoding is text at millisecond precision), and the columns
// are few.

// SQLite binds an empty Data as NULL (its buffer has no address), so
// non-optional blobs are written through coalesce(?, X'') and NOT NULL holds.

extension StreamRecord {
    init(row: Row) {
        self.init(
            name: row["name"],
            config: row["config"] ?? Data(),
            state: row["state"] ?? Data(),
            createdAt: Date(timeIntervalSince1970: row["created_at"]),
            updatedAt: Date(timeIntervalSince1970: row["updated_at"]))
    }
}

extension JournalEntry {
    static let scalarColumns = """
        stream, seq, step, tag, time, samples, elements, nonfinite, \
        mean, std, normalized_std, clamp_fraction
        """

    /// Decodes a row; `summary` is read only when the row has that column.
    init(row: Row) {
        self.init(
            stream: row["stream"],
            seq: row["seq"],
            step: row["step"],
            tag: row["tag"],
            time: Date(timeIntervalSince1970: row["time"]),
            samples: row["samples"],
            elements: row["elements"],
            nonfinite: row["nonfinite"],
            mean: row["mean"],
            std: row["std"],
            normalizedStd: row["normalized_std"],
            clampFraction: row["clamp_fraction"],
            summary: row.hasColumn("summary") ? row["summary"] : nil)
    }
}

extension Snapshot {
    init(row: Row) {
        self.init(
            stream: row["stream"],
            seq: row["seq"],
            time: Date(timeIntervalSince1970: row["time"]),
            state: row["state"] ?? Data())
    }
}

extension AlertTransition {
    static let columns = "stream, kind, state, since, resolved_at, message, value, severity, at"

    init(row: Row) {
        let resolvedAt: Double? = row["resolved_at"]
        self.init(
            stream: row["stream"],
            kind: row["kind"],
            state: row["state"],
            since: Date(timeIntervalSince1970: row["since"]),
            resolvedAt: resolvedAt.map { Date(timeIntervalSince1970: $0) },
            message: row["message"],
            value: row["value"],
            severity: row["severity"],
            at: Date(timeIntervalSince1970: row["at"]))
    }

    var arguments: StatementArguments {
        [stream, kind, state, since.timeIntervalSince1970, resolvedAt?.timeIntervalSince1970,
         message, value, severity, at.timeIntervalSince1970]
    }
}

extension Database {
    func streamExists(_ name: String) throws -> Bool {
        try Bool.fetchOne(self, sql: "SELECT EXISTS (SELECT 1 FROM streams WHERE name = ?)", arguments: [name]) ?? false
    }

    func requireStream(_ name: String) throws {
        guard try streamExists(name) else { throw StoreError.unknownStream(name) }
    }

    /// The stream's last seq: of its journal, or of its latest snapshot when
    /// ``ScaleDatabase/pruneHistory(stream:keepingLast:)`` emptied the journal;
    /// 0 for a fresh stream.
    func lastSeq(_ stream: String) throws -> Int64 {
        let journal = try Int64.fetchOne(self, sql: ScaleDatabase.lastSeqSQL, arguments: [stream]) ?? 0
        return max(journal, try latestSnapshotSeq(stream) ?? 0)
    }

    func latestSnapshotSeq(_ stream: String) throws -> Int64? {
        try Int64.fetchOne(
            self, sql: "SELECT seq FROM snapshots WHERE stream = ? ORDER BY seq DESC LIMIT 1",
            arguments: [stream])
    }

    func upsert(_ record: StreamRecord) throws {
        // created_at keeps the first value: a caller that rebuilds the record
        // from a new config must not make an old stream look new.
        try execute(
            sql: """
                INSERT INTO streams (name, config, state, created_at, updated_at)
                VALUES (?, coalesce(?, X''), coalesce(?, X''), ?, ?)
                ON CONFLICT (name) DO UPDATE SET
                    config = excluded.config,
                    state = excluded.state,
                    updated_at = excluded.updated_at
                """,
            arguments: [record.name, record.config, record.state,
                        record.createdAt.timeIntervalSince1970, record.updatedAt.timeIntervalSince1970])
    }

    /// Deletes everything derived from the stream's batches.
    func clearStatistics(of stream: String) throws {
        for table in ["journal", "snapshots", "alert_events", "alerts"] {
            try execute(sql: "DELETE FROM \(table) WHERE stream = ?", arguments: [stream])
        }
    }
}

func requireNonNegative(_ value: Int, _ name: String) throws {
    if value < 0 { throw StoreError.negativeArgument(name: name, value: value) }
}
