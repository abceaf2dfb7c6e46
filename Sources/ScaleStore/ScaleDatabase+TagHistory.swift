import Foundation
import GRDB

extension ScaleDatabase {
    /// The newest `limit` journal entries of `stream` pushed with `tag`, oldest
    /// first, without summaries: one bucket's `history`.
    public func history(stream: String, limit: Int, tag: String) throws -> [JournalEntry] {
        try requireNonNegative(limit, "limit")
        return try writer.read { db in
            try JournalEntry.fetchAll(
                db,
                sql: """
                    SELECT \(JournalEntry.scalarColumns) FROM journal
                    WHERE stream = ? AND tag = ? ORDER BY seq DESC LIMIT ?
                    """,
                arguments: [stream, tag, limit]
            ).reversed()
        }
    }

    /// As ``history(stream:limit:tag:)`` for the tagged entries whose tag is not
    /// in `named`: the `(other)` bucket's history.
    public func history(stream: String, limit: Int, tagNotIn named: [String]) throws -> [JournalEntry] {
        try requireNonNegative(limit, "limit")
        let placeholders = named.isEmpty ? "" : " AND tag NOT IN (" + named.map { _ in "?" }.joined(separator: ",") + ")"
        var args: [any DatabaseValueConvertible] = [stream]
        args += named.map { $0 as any DatabaseValueConvertible }
        args.append(limit)
        return try writer.read { db in
            try JournalEntry.fetchAll(
                db,
                sql: """
                    SELECT \(JournalEntry.scalarColumns) FROM journal
                    WHERE stream = ? AND tag IS NOT NULL\(placeholders) ORDER BY seq DESC LIMIT ?
                    """,
                arguments: StatementArguments(args)
            ).reversed()
        }
    }
}
