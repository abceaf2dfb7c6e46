import Foundation
import Testing
@testable import ScaleStore

@Suite struct SnapshotTests {
    @Test func roundTrip() throws {
        try withFileDatabase { db, _ in
            try fill(db, count: 3)
            #expect(try db.latestSnapshot(stream: "sd15") == nil)
            let snapshot = Snapshot(stream: "sd15", seq: 3, time: time(3), state: Data("state-3".utf8))
            try db.writeSnapshot(snapshot, keepSummariesOfLast: 10)
            #expect(try db.latestSnapshot(stream: "sd15") == snapshot)
        }
    }

    @Test func snapshotOfAnEmptyStream() throws {
        let db = try ScaleDatabase.inMemory()
        try db.upsertStream(makeStream())
        let snapshot = Snapshot(stream: "sd15", seq: 0, time: time(0), state: Data())
        try db.writeSnapshot(snapshot, keepSummariesOfLast: 0)
        #expect(try db.latestSnapshot(stream: "sd15") == snapshot)
    }

    @Test func pruningDropsOldSummariesAndKeepsHistoryScalars() throws {
        try withFileDatabase { db, _ in
            try fill(db, count: 10)
            try db.writeSnapshot(
                Snapshot(stream: "sd15", seq: 8, time: time(8), state: Data("s8".utf8)),
                keepSummariesOfLast: 3)

            let journal = try db.journal(stream: "sd15", after: 0)
            // seq <= 8 - 3 lose their summary; 6...10 keep it.
            #expect(journal.filter { $0.summary != nil }.map(\.seq) == [6, 7, 8, 9, 10])
            for entry in journal {
                var expected = makeEntry(seq: entry.seq)
                if entry.seq <= 5 { expected.summary = nil }
                #expect(entry == expected)
            }
            #expect(try db.history(stream: "sd15", limit: 100).count == 10)
            // The window restores from the kept summaries.
            #expect(try db.lastEntries(stream: "sd15", count: 5).allSatisfy { $0.summary != nil })
        }
    }

    @Test func pruningTouchesOnlyItsStream() throws {
        let db = try ScaleDatabase.inMemory()
        try fill(db, "sd15", count: 4)
        try fill(db, "flux", count: 4)
        try db.writeSnapshot(Snapshot(stream: "sd15", seq: 4, time: time(4), state: Data("s".utf8)), keepSummariesOfLast: 0)
        #expect(try db.journal(stream: "sd15", after: 0).allSatisfy { $0.summary == nil })
        #expect(try db.journal(stream: "flux", after: 0).allSatisfy { $0.summary != nil })
    }

    @Test func olderSnapshotsAreReplaced() throws {
        let db = try ScaleDatabase.inMemory()
        try fill(db, count: 6)
        try db.writeSnapshot(Snapshot(stream: "sd15", seq: 2, time: time(2), state: Data("s2".utf8)), keepSummariesOfLast: 5)
        let newer = Snapshot(stream: "sd15", seq: 5, time: time(5), state: Data("s5".utf8))
        try db.writeSnapshot(newer, keepSummariesOfLast: 5)
        #expect(try db.latestSnapshot(stream: "sd15") == newer)

        // Writing an older one is refused, and changes nothing.
        #expect(throws: StoreError.staleSnapshot(stream: "sd15", snapshotSeq: 3, latestSeq: 5)) {
            try db.writeSnapshot(Snapshot(stream: "sd15", seq: 3, time: time(3), state: Data("s3".utf8)), keepSummariesOfLast: 0)
        }
        #expect(try db.latestSnapshot(stream: "sd15") == newer)
        #expect(try db.journal(stream: "sd15", after: 0).allSatisfy { $0.summary != nil })

        // The same seq again replaces it.
        let again = Snapshot(stream: "sd15", seq: 5, time: time(6), state: Data("s5b".utf8))
        try db.writeSnapshot(again, keepSummariesOfLast: 5)
        #expect(try db.latestSnapshot(stream: "sd15") == again)
    }

    @Test func snapshotPastTheJournalIsRefused() throws {
        let db = try ScaleDatabase.inMemory()
        try fill(db, count: 3)
        #expect(throws: StoreError.snapshotAheadOfJournal(stream: "sd15", snapshotSeq: 4, lastSeq: 3)) {
            try db.writeSnapshot(Snapshot(stream: "sd15", seq: 4, time: time(4), state: Data("s".utf8)), keepSummariesOfLast: 0)
        }
        #expect(try db.latestSnapshot(stream: "sd15") == nil)
        #expect(throws: StoreError.unknownStream("flux")) {
            try db.writeSnapshot(Snapshot(stream: "flux", seq: 0, time: time(0), state: Data()), keepSummariesOfLast: 0)
        }
    }

    @Test func restartReplaysFromTheSnapshot() throws {
        // What the daemon does on start: snapshot + journal after it + window.
        try withFileDatabase { db, _ in
            try fill(db, count: 20)
            try db.writeSnapshot(Snapshot(stream: "sd15", seq: 15, time: time(15), state: Data("s15".utf8)), keepSummariesOfLast: 4)
            let snapshot = try #require(try db.latestSnapshot(stream: "sd15"))
            let replay = try db.journal(stream: "sd15", after: snapshot.seq)
            #expect(replay.map(\.seq) == [16, 17, 18, 19, 20])
            #expect(replay.allSatisfy { $0.summary != nil })
            let window = try db.lastEntries(stream: "sd15", count: 9)
            #expect(window.map(\.seq) == Array(12...20))
            #expect(window.allSatisfy { $0.summary != nil })
        }
    }

    @Test func pruningAndSeqLookupsUseIndexes() throws {
        // A full scan here would make every snapshot and push slower as the
        // journal grows.
        try withFileDatabase { db, _ in
            try fill(db, count: 3)
            let prune = try db.queryPlan(ScaleDatabase.pruneSummariesSQL, arguments: ["sd15", 2])
            #expect(prune.count == 1)
            #expect(prune.first?.contains("USING INDEX journal_with_summary") == true, "\(prune)")

            let last = try db.queryPlan(ScaleDatabase.lastSeqSQL, arguments: ["sd15"])
            #expect(last.count == 1)
            #expect(last.first?.hasPrefix("SEARCH") == true, "\(last)")
        }
    }

    @Test func pruneHistoryKeepsWhatARestartNeeds() throws {
        try withFileDatabase { db, _ in
            try fill(db, count: 20)
            #expect(try db.pruneHistory(stream: "sd15", keepingLast: 0) == 0)  // no snapshot yet
            #expect(try db.journal(stream: "sd15", after: 0).count == 20)

            try db.writeSnapshot(Snapshot(stream: "sd15", seq: 15, time: time(15), state: Data("s".utf8)), keepSummariesOfLast: 5)
            #expect(try db.pruneHistory(stream: "sd15", keepingLast: 12) == 8)
            #expect(try db.history(stream: "sd15", limit: 100).map(\.seq) == Array(9...20))
            // Rows after the snapshot stay even when asked to keep fewer.
            #expect(try db.pruneHistory(stream: "sd15", keepingLast: 2) == 7)
            #expect(try db.journal(stream: "sd15", after: 0) == (16...20).map { makeEntry(seq: $0) })
        }
    }

    @Test func seqContinuesAfterTheWholeHistoryIsPruned() throws {
        try withFileDatabase { db, path in
            try fill(db, count: 4)
            try db.writeSnapshot(Snapshot(stream: "sd15", seq: 4, time: time(4), state: Data("s".utf8)), keepSummariesOfLast: 0)
            #expect(try db.pruneHistory(stream: "sd15", keepingLast: 0) == 4)
            try db.close()

            let reopened = try ScaleDatabase(path: path)
            #expect(try reopened.history(stream: "sd15", limit: 10).isEmpty)
            #expect(try reopened.lastSeq(stream: "sd15") == 4)
            #expect(throws: StoreError.sequenceGap(stream: "sd15", expected: 5, got: 1)) {
                try reopened.append(makeEntry(seq: 1))
            }
            try reopened.append(makeEntry(seq: 5))
            #expect(try reopened.journal(stream: "sd15", after: 4) == [makeEntry(seq: 5)])
        }
    }
}
