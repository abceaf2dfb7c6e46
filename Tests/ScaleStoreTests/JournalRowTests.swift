import Foundation
import GRDB
import Testing
@testable import ScaleStore

/// The journal row the push path inserts by its prepared statement, against
/// the row GRDB's Codable record `insert` writes for the same entry: every
/// column's value and storage class.
@Suite struct JournalRowTests {
    static let entries: [JournalEntry] = [
        makeEntry(seq: 1),
        JournalEntry(stream: "sd15", seq: 2, time: time(2), samples: 1, elements: 16, nonfinite: 16),
        JournalEntry(stream: "sd15", seq: 3, step: Int64.min, tag: "ünïcode ✓ 'quoted'", time: time(-1e9),
                     samples: Int(Int32.max) + 1, elements: Int.max, nonfinite: 0,
                     mean: -1e300, std: .infinity, normalizedStd: .leastNonzeroMagnitude, clampFraction: .nan,
                     summary: Data((0...255).map { UInt8($0) })),
        JournalEntry(stream: "sd15", seq: 4, tag: "", time: time(0.0001), samples: 0, elements: 0, nonfinite: 0,
                     mean: -0.0, summary: Data()),
    ]

    static func rows(_ db: Database) throws -> [[String]] {
        let columns = ["stream", "seq", "step", "tag", "time", "samples", "elements", "nonfinite",
                       "mean", "std", "normalized_std", "clamp_fraction", "summary"]
        let select = columns.map { "typeof(\($0)), quote(\($0))" }.joined(separator: ", ")
        return try Row.fetchAll(db, sql: "SELECT \(select) FROM journal ORDER BY seq").map { row in
            (0..<row.count).map { "\(row[$0] as DatabaseValue)" }
        }
    }

    @Test func preparedInsertWritesTheRecordsRow() throws {
        let prepared = try ScaleDatabase.inMemory(), record = try ScaleDatabase.inMemory()
        for db in [prepared, record] { try db.upsertStream(makeStream()) }
        try prepared.writer.write { db in for e in Self.entries { try db.insertJournalRow(e) } }
        try record.writer.write { db in for e in Self.entries { try e.insert(db) } }
        let a = try prepared.writer.read(Self.rows), b = try record.writer.read(Self.rows)
        #expect(a.count == Self.entries.count)
        #expect(a == b)
        // And through the public path, read back as entries.
        #expect(try prepared.journal(stream: "sd15", after: 0) == (try record.journal(stream: "sd15", after: 0)))
    }
}
