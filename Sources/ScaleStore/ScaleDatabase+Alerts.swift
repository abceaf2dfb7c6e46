import GRDB

extension ScaleDatabase {
    /// Stores an alert transition: appends it to the event log and makes it
    /// the current state of its (stream, kind).
    ///
    /// - Throws: ``StoreError/invalidAlertState(_:)``, ``StoreError/unknownStream(_:)``.
    public func record(_ transition: AlertTransition) throws {
        guard AlertTransition.states.contains(transition.state) else {
            throw StoreError.invalidAlertState(transition.state)
        }
        try writer.write { db in
            try db.requireStream(transition.stream)
            try db.execute(
                sql: """
                    INSERT INTO alert_events (\(AlertTransition.columns))
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: transition.arguments)
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO alerts (\(AlertTransition.columns))
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: transition.arguments)
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
            var rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT \(AlertTransition.columns) FROM alerts
                    WHERE state IN ('firing', 'pending')
                    ORDER BY state = 'pending', since, stream, kind
                    """)
            if includeResolved {
                rows += try Row.fetchAll(
                    db,
                    sql: """
                        SELECT \(AlertTransition.columns) FROM alerts
                        WHERE state = 'resolved'
                        ORDER BY at DESC, stream, kind LIMIT ?
                        """,
                    arguments: [limit])
            }
            return rows.map(AlertTransition.init(row:))
        }
    }

    /// Every stored transition, oldest first; of one stream, or of all
    /// streams when `stream` is `nil`.
    public func alertEvents(stream: String? = nil) throws -> [AlertTransition] {
        try writer.read { db in
            let rows: [Row]
            if let stream {
                rows = try Row.fetchAll(
                    db,
                    sql: "SELECT \(AlertTransition.columns) FROM alert_events WHERE stream = ? ORDER BY id",
                    arguments: [stream])
            } else {
                rows = try Row.fetchAll(
                    db, sql: "SELECT \(AlertTransition.columns) FROM alert_events ORDER BY id")
            }
            return rows.map(AlertTransition.init(row:))
        }
    }
}
