import GRDB

extension ScaleDatabase {
    /// Creates the stream, or replaces its config, state and `updatedAt`.
    ///
    /// An existing stream keeps its stored `createdAt`.
    public func upsertStream(_ record: StreamRecord) throws {
        try writer.write { try $0.upsert(record) }
    }

    /// The stream named `name`, or `nil` when there is none.
    public func stream(named name: String) throws -> StreamRecord? {
        try writer.read { db in
            try StreamRecord.fetchOne(db, key: name)
        }
    }

    /// All streams, ordered by name.
    public func streams() throws -> [StreamRecord] {
        try writer.read { db in
            try StreamRecord.order(Column("name")).fetchAll(db)
        }
    }

    /// Deletes the stream with its journal, snapshots and alerts.
    ///
    /// - Returns: `false` when there was no such stream.
    @discardableResult
    public func deleteStream(named name: String) throws -> Bool {
        try writer.write { db in
            try db.clearStatistics(of: name)
            try db.execute(sql: "DELETE FROM streams WHERE name = ?", arguments: [name])
            return db.changesCount > 0
        }
    }

    /// Deletes the stream's journal, snapshots and alerts, keeping its row;
    /// the next journal entry has seq 1.
    ///
    /// - Parameter record: if given, stored in the same transaction (for
    ///   example to drop a frozen reference from the state).
    /// - Throws: ``StoreError/unknownStream(_:)`` when there is no such stream.
    public func resetStream(named name: String, updating record: StreamRecord? = nil) throws {
        try writer.write { db in
            try db.requireStream(name)
            if let record {
                guard record.name == name else {
                    throw StoreError.streamMismatch(expected: name, got: record.name)
                }
                try db.upsert(record)
            }
            try db.clearStatistics(of: name)
        }
    }
}
