import GRDB

extension ScaleDatabase {
    /// Stores `record`, replacing the peer's previous summary, together with
    /// the stream row (creating the stream when a sync reaches it first).
    ///
    /// - Throws: ``StoreError/streamMismatch(expected:got:)``; then nothing was written.
    public func setPeer(_ record: PeerRecord, updating stream: StreamRecord) throws {
        try writer.write { db in
            guard stream.name == record.stream else { throw StoreError.streamMismatch(expected: record.stream, got: stream.name) }
            try db.upsert(stream)
            try record.insert(db, onConflict: .replace)
        }
    }

    /// Removes a peer; `false` when the stream had no such peer.
    @discardableResult
    public func deletePeer(stream: String, peer: String) throws -> Bool {
        try writer.write { db in
            try PeerRecord.filter(Column("stream") == stream && Column("peer") == peer).deleteAll(db) > 0
        }
    }

    /// The stream's peers, by name.
    public func peers(stream: String) throws -> [PeerRecord] {
        try writer.read { db in
            try PeerRecord.filter(Column("stream") == stream).order(Column("peer")).fetchAll(db)
        }
    }
}
