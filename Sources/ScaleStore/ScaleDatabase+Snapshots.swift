import GRDB

extension ScaleDatabase {
    /// Reaches only rows that still have a summary, through the partial
    /// index `journal_with_summary`, so its cost doesn't grow with history.
    static let pruneSummariesSQL = """
        UPDATE journal SET summary = NULL
        WHERE stream = ? AND seq <= ? AND summary IS NOT NULL
        """

    /// Stores a snapshot, deletes the stream's older snapshots, and drops the
    /// summaries of journal entries no longer needed, in one transaction.
    ///
    /// Entries with seq ≤ `snapshot.seq - keepSummariesOfLast` lose their
    /// summary; their scalar columns stay for `history`. Keep at least the
    /// rolling window's length so that ``lastEntries(stream:count:)`` can
    /// restore the window after a restart.
    ///
    /// - Throws: ``StoreError/unknownStream(_:)``,
    ///   ``StoreError/snapshotAheadOfJournal(stream:snapshotSeq:lastSeq:)`` when
    ///   `snapshot.seq` is past the journal's end,
    ///   ``StoreError/staleSnapshot(stream:snapshotSeq:latestSeq:)`` when a newer
    ///   snapshot is stored.
    public func writeSnapshot(_ snapshot: Snapshot, keepSummariesOfLast keep: Int) throws {
        try requireNonNegative(keep, "keepSummariesOfLast")
        try writer.write { db in
            let stream = snapshot.stream
            try db.requireStream(stream)
            let lastSeq = try db.lastSeq(stream)
            guard snapshot.seq <= lastSeq else {
                throw StoreError.snapshotAheadOfJournal(
                    stream: stream, snapshotSeq: snapshot.seq, lastSeq: lastSeq)
            }
            if let latest = try db.latestSnapshotSeq(stream), latest > snapshot.seq {
                throw StoreError.staleSnapshot(stream: stream, snapshotSeq: snapshot.seq, latestSeq: latest)
            }
            try snapshot.insert(db, onConflict: .replace)
            try db.execute(
                sql: "DELETE FROM snapshots WHERE stream = ? AND seq < ?",
                arguments: [stream, snapshot.seq])
            try db.execute(sql: Self.pruneSummariesSQL, arguments: [stream, snapshot.seq - Int64(keep)])
        }
    }

    /// The stream's newest snapshot, or `nil` when it has none.
    public func latestSnapshot(stream: String) throws -> Snapshot? {
        try writer.read { db in
            try Snapshot.filter(Column("stream") == stream).order(Column("seq").desc).fetchOne(db)
        }
    }
}
