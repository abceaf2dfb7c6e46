/// Why a ``ScaleDatabase`` operation was refused.
///
/// Every refused write leaves the database unchanged: each operation runs in a
/// single transaction that is rolled back when it throws. SQLite failures
/// (disk full, I/O errors) surface as GRDB's `DatabaseError`.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The database file could not be created or opened.
    case cannotOpen(path: String, reason: String)
    /// The stream has no row in the database.
    case unknownStream(String)
    /// A journal entry's `seq` is not the stream's last `seq` + 1.
    case sequenceGap(stream: String, expected: Int64, got: Int64)
    /// A journal entry or snapshot was written together with the record of another stream.
    case streamMismatch(expected: String, got: String)
    /// A snapshot claims to include journal entries that were never appended.
    case snapshotAheadOfJournal(stream: String, snapshotSeq: Int64, lastSeq: Int64)
    /// A snapshot is older than the stream's latest snapshot.
    case staleSnapshot(stream: String, snapshotSeq: Int64, latestSeq: Int64)
    /// A count or limit argument was negative.
    case negativeArgument(name: String, value: Int)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason):
            let lowered = reason.lowercased()
            if lowered.contains("not a database") || lowered.contains("malformed") || lowered.contains("corrupt") {
                return "the database \(path) is damaged (\(reason)); nothing was changed. Restore it from a backup, "
                    + "or move it aside to start with an empty database, or try `sqlite3 \(path) .recover | sqlite3 \(path).recovered` and use the recovered file"
            }
            return "cannot open database at \(path): \(reason); check that the directory is writable or choose another path"
        case let .unknownStream(name):
            return "stream '\(name)' does not exist in the database; create it with upsertStream first"
        case let .sequenceGap(stream, expected, got):
            return "journal entry for stream '\(stream)' has seq \(got), but the next seq must be \(expected); nothing was written"
        case let .streamMismatch(expected, got):
            return "record is for stream '\(got)' but the operation is for stream '\(expected)'"
        case let .snapshotAheadOfJournal(stream, snapshotSeq, lastSeq):
            return "snapshot of stream '\(stream)' claims seq \(snapshotSeq), but the journal ends at seq \(lastSeq)"
        case let .staleSnapshot(stream, snapshotSeq, latestSeq):
            return "snapshot of stream '\(stream)' at seq \(snapshotSeq) is older than the stored snapshot at seq \(latestSeq)"
        case let .negativeArgument(name, value):
            return "\(name) must not be negative (got \(value))"
        }
    }
}
