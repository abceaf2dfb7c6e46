import GRDB

/// The database schema, as an append-only list of migrations.
///
/// Never edit a registered migration: databases in the field have already
/// applied it. Add a new one instead.
enum Schema {
    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            // Dates are REAL unix seconds. Journal rows are keyed by
            // (stream, seq) so that a gap check and a restart replay are
            // index range scans.
            try db.execute(sql: """
                CREATE TABLE streams (
                    name TEXT NOT NULL PRIMARY KEY,
                    config BLOB NOT NULL,
                    state BLOB NOT NULL,
                    created_at REAL NOT NULL,
                    updated_at REAL NOT NULL
                );
                CREATE TABLE journal (
                    stream TEXT NOT NULL REFERENCES streams(name) ON DELETE CASCADE,
                    seq INTEGER NOT NULL CHECK (seq >= 1),
                    step INTEGER,
                    tag TEXT,
                    time REAL NOT NULL,
                    samples INTEGER NOT NULL,
                    elements INTEGER NOT NULL,
                    nonfinite INTEGER NOT NULL,
                    mean REAL,
                    std REAL,
                    normalized_std REAL,
                    clamp_fraction REAL,
                    summary BLOB,
                    PRIMARY KEY (stream, seq)
                );
                -- Pruning summaries touches only the rows that still have
                -- one, so a snapshot costs the same after a million batches.
                CREATE INDEX journal_with_summary ON journal(stream, seq)
                    WHERE summary IS NOT NULL;
                CREATE TABLE snapshots (
                    stream TEXT NOT NULL REFERENCES streams(name) ON DELETE CASCADE,
                    seq INTEGER NOT NULL CHECK (seq >= 0),
                    time REAL NOT NULL,
                    state BLOB NOT NULL,
                    PRIMARY KEY (stream, seq)
                );
                CREATE TABLE alert_events (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    stream TEXT NOT NULL REFERENCES streams(name) ON DELETE CASCADE,
                    kind TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
                    since REAL NOT NULL,
                    resolved_at REAL,
                    message TEXT NOT NULL,
                    value REAL,
                    severity TEXT NOT NULL,
                    at REAL NOT NULL
                );
                CREATE INDEX alert_events_by_stream ON alert_events(stream, id);
                CREATE TABLE alerts (
                    stream TEXT NOT NULL REFERENCES streams(name) ON DELETE CASCADE,
                    kind TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
                    since REAL NOT NULL,
                    resolved_at REAL,
                    message TEXT NOT NULL,
                    value REAL,
                    severity TEXT NOT NULL,
                    at REAL NOT NULL,
                    PRIMARY KEY (stream, kind)
                );
                """)
        }
        migrator.registerMigration("v2-peers") { db in
            // Other nodes' latest summaries: one row per (stream, peer), replaced on every sync.
            try db.execute(sql: """
                CREATE TABLE peers (
                    stream TEXT NOT NULL REFERENCES streams(name) ON DELETE CASCADE,
                    peer TEXT NOT NULL,
                    summary BLOB NOT NULL,
                    updated_at REAL NOT NULL,
                    PRIMARY KEY (stream, peer)
                );
                """)
        }
        return migrator
    }()
}
