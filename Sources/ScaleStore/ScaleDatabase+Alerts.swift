import GRDB
import StreamModel

extension ScaleDatabase {
    /// Stores an alert transition: appends it to the event log and makes it
    /// the current state of its (stream, kind).
    ///
    /// - Throws: ``StoreError/unknownStream(_:)``.
    public func record(_ transition: AlertTransition) throws {
        try writer.write { db in
            try db.requireStream(transition.stream)
            try transition.insert(db)
            try CurrentAlert(transition).insert(db, onConflict: .replace)
        }
    }

    /// The current state of every alert: all active ones (`firing`, then
    /// `pending`, each oldest `since` first), then, if `includeResolved`, the
    /// `limit` most recently resolved ones, newest first.
    ///
    /// `limit` bounds only the resolved alerts: an active alert is never
    /// left out.
    public func currentAlerts(includeResolved: Bool = true, limit: Int = 100) throws -> [AlertTransition] {
        try requireNonNegative(limit, "limit")
        return try writer.read { db in
            var rows = try AlertTransition.fetchAll(
                db,
                sql: """
                    SELECT * FROM alerts
                    WHERE state IN ('firing', 'pending')
                    ORDER BY state = 'pending', since, stream, kind
                    """)
            if includeResolved {
                rows += try AlertTransition.fetchAll(
                    db,
                    sql: """
                        SELECT * FROM alerts
                        WHERE state = 'resolved'
                        ORDER BY at DESC, stream, kind LIMIT ?
                        """,
                    arguments: [limit])
            }
            return rows
        }
    }

    /// Every stored transition, oldest first; of one stream, or of all
    /// streams when `stream` is `nil`.
    public func alertEvents(stream: String? = nil) throws -> [AlertTransition] {
        try writer.read { db in
            var request = AlertTransition.order(Column("id"))
            if let stream { request = request.filter(Column("stream") == stream) }
            return try request.fetchAll(db)
        }
    }
}
