import GRDB

extension Database {
    func append(_ entry: JournalEntry, updatingState update: StreamStateUpdate) throws {
        guard update.name == entry.stream else {
            throw StoreError.streamMismatch(expected: entry.stream, got: update.name)
        }
        try cachedStatement(sql: "UPDATE streams SET state = ?, updated_at = ? WHERE name = ?")
            .execute(arguments: [update.state, update.updatedAt.timeIntervalSince1970, update.name])
        guard changesCount == 1 else { throw StoreError.unknownStream(entry.stream) }
        try insertNext(entry)
    }

    /// Inserts the stream's next journal row; its seq must be the last + 1.
    func insertNext(_ entry: JournalEntry) throws {
        let expected = try lastSeq(entry.stream) + 1
        guard entry.seq == expected else {
            throw StoreError.sequenceGap(stream: entry.stream, expected: expected, got: entry.seq)
        }
        try insertJournalRow(entry)
    }

    static let insertJournalSQL = """
        INSERT INTO journal (stream, seq, step, tag, time, samples, elements, nonfinite,
                             mean, std, normalized_std, clamp_fraction, summary)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    /// Inserts `entry`'s row by one prepared statement, kept between pushes:
    /// the values the Codable record's `insert` binds (dates as unix seconds,
    /// an empty summary as "", NaN as NULL), without encoding the record
    /// through containers and compiling the SQL on every push
    /// (`JournalRowTests` holds the rows equal).
    func insertJournalRow(_ e: JournalEntry) throws {
        let summary: (any DatabaseValueConvertible)? = e.summary.map { $0.isEmpty ? "" as String : $0 as any DatabaseValueConvertible }
        try cachedStatement(sql: Self.insertJournalSQL).execute(arguments: [
            e.stream, e.seq, e.step, e.tag, e.time.timeIntervalSince1970, e.samples, e.elements, e.nonfinite,
            e.mean, e.std, e.normalizedStd, e.clampFraction, summary,
        ])
    }
}

extension ScaleDatabase {
    /// An index seek, not `max(seq)`, so that a push costs the same at any
    /// journal length.
    static let lastSeqSQL = "SELECT seq FROM journal WHERE stream = ? ORDER BY seq DESC LIMIT 1"

    /// Appends one batch to the stream's journal, durably.
    ///
    /// When this returns, the entry survives `kill -9` and power loss.
    ///
    /// - Parameters:
    ///   - entry: its `seq` must be the stream's ``lastSeq(stream:)`` + 1.
    ///   - record: if given, the stream row is upserted in the same
    ///     transaction (creating the stream on its first push).
    /// - Throws: ``StoreError/sequenceGap(stream:expected:got:)``,
    ///   ``StoreError/unknownStream(_:)``, ``StoreError/streamMismatch(expected:got:)``;
    ///   then nothing was written.
    public func append(_ entry: JournalEntry, updating record: StreamRecord? = nil) throws {
        try writer.write { db in
            if let record {
                guard record.name == entry.stream else {
                    throw StoreError.streamMismatch(expected: entry.stream, got: record.name)
                }
                try db.upsert(record)
            }
            try db.requireStream(entry.stream)
            try db.insertNext(entry)
        }
    }

    /// Appends one batch to an existing stream's journal and updates only the
    /// stream row's state and `updatedAt`, durably, in one transaction.
    ///
    /// - Throws: as ``append(_:updating:)``; ``StoreError/unknownStream(_:)``
    ///   when the stream does not exist. Then nothing was written.
    public func append(_ entry: JournalEntry, updatingState update: StreamStateUpdate) throws {
        try writer.write { db in try db.append(entry, updatingState: update) }
    }

    /// The seq of the stream's last batch, 0 for a stream without batches;
    /// the next ``append(_:updating:)`` must use this + 1.
    ///
    /// It survives ``pruneHistory(stream:keepingLast:)``, which may empty the
    /// journal: the latest snapshot's seq counts too.
    public func lastSeq(stream: String) throws -> Int64 {
        try writer.read { try $0.lastSeq(stream) }
    }

    /// Deletes old journal rows to bound the database's size; ``history(stream:limit:)``
    /// then reaches back at least `count` batches.
    ///
    /// Rows after the latest snapshot are kept whatever `count` is, since a
    /// restart replays them; without a snapshot nothing is deleted.
    ///
    /// - Returns: the number of rows deleted.
    @discardableResult
    public func pruneHistory(stream: String, keepingLast count: Int) throws -> Int {
        try requireNonNegative(count, "count")
        return try writer.write { db in
            guard let snapshotSeq = try db.latestSnapshotSeq(stream) else { return 0 }
            let cutoff = min(snapshotSeq, try db.lastSeq(stream) - Int64(count))
            try db.execute(
                sql: "DELETE FROM journal WHERE stream = ? AND seq <= ?", arguments: [stream, cutoff])
            return db.changesCount
        }
    }

    /// The stream's journal entries with seq greater than `seq`, in seq order,
    /// with their summaries: what a restart replays on top of a snapshot.
    public func journal(stream: String, after seq: Int64) throws -> [JournalEntry] {
        try writer.read { db in
            try JournalEntry.filter(Column("stream") == stream && Column("seq") > seq).order(Column("seq")).fetchAll(db)
        }
    }

    /// The stream's newest `count` journal entries, oldest first, with their
    /// summaries: what restores a rolling window of `count` batches.
    ///
    /// Summaries are only there for entries a snapshot has not pruned; see
    /// ``writeSnapshot(_:keepSummariesOfLast:)``.
    public func lastEntries(stream: String, count: Int) throws -> [JournalEntry] {
        try requireNonNegative(count, "count")
        return try writer.read { db in
            try JournalEntry.filter(Column("stream") == stream).order(Column("seq").desc).limit(count)
                .fetchAll(db).reversed()
        }
    }

    /// The stream's newest `limit` journal entries, oldest first, without
    /// summaries (`summary` is `nil`): the per-batch series of `history`.
    public func history(stream: String, limit: Int) throws -> [JournalEntry] {
        try requireNonNegative(limit, "limit")
        return try writer.read { db in
            try JournalEntry.fetchAll(
                db,
                sql: """
                    SELECT \(JournalEntry.scalarColumns) FROM journal
                    WHERE stream = ? ORDER BY seq DESC LIMIT ?
                    """,
                arguments: [stream, limit]
            ).reversed()
        }
    }
}
