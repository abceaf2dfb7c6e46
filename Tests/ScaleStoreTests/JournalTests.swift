import Foundation
import Testing
import ScaleStore

@Suite struct JournalTests {
    @Test func entriesRoundTrip() throws {
        try withFileDatabase { db, _ in
            try db.upsertStream(makeStream())
            let full = makeEntry(seq: 1)
            let sparse = JournalEntry(
                stream: "sd15", seq: 2, time: time(2), samples: 1, elements: 16, nonfinite: 16)
            let extreme = JournalEntry(
                stream: "sd15", seq: 3, step: Int64.max, tag: "ünïcode ✓", time: time(3),
                samples: Int(Int32.max) + 1, elements: Int.max, nonfinite: 0,
                mean: -1e300, std: .infinity, normalizedStd: .leastNonzeroMagnitude, clampFraction: 0,
                summary: Data((0...255).map { UInt8($0) }))
            for entry in [full, sparse, extreme] { try db.append(entry) }

            #expect(try db.journal(stream: "sd15", after: 0) == [full, sparse, extreme])
            #expect(try db.lastSeq(stream: "sd15") == 3)
        }
    }

    @Test func nanScalarsReadBackAsNil() throws {
        let db = try ScaleDatabase.inMemory()
        try db.upsertStream(makeStream())
        var entry = makeEntry(seq: 1)
        entry.mean = .nan
        try db.append(entry)
        let stored = try #require(try db.journal(stream: "sd15", after: 0).first)
        #expect(stored.mean == nil)
        #expect(stored.std == entry.std)
    }

    @Test(arguments: [Int64(0), 1, 3, 5, -1])
    func seqGapIsRejectedAndNothingChanges(badSeq: Int64) throws {
        try withFileDatabase { db, _ in
            try fill(db, count: 1)
            var updated = makeStream()
            updated.state = Data("must not be stored".utf8)
            updated.updatedAt = time(99)

            #expect(throws: StoreError.sequenceGap(stream: "sd15", expected: 2, got: badSeq)) {
                try db.append(makeEntry(seq: badSeq), updating: updated)
            }
            #expect(try db.stream(named: "sd15") == makeStream())
            #expect(try db.journal(stream: "sd15", after: 0) == [makeEntry(seq: 1)])

            // The right seq still goes through.
            try db.append(makeEntry(seq: 2), updating: updated)
            #expect(try db.stream(named: "sd15")?.state == updated.state)
            #expect(try db.lastSeq(stream: "sd15") == 2)
        }
    }

    @Test func firstSeqMustBeOne() throws {
        let db = try ScaleDatabase.inMemory()
        #expect(throws: StoreError.sequenceGap(stream: "sd15", expected: 1, got: 2)) {
            try db.append(makeEntry(seq: 2), updating: makeStream())
        }
        // The stream the failed push would have created does not exist.
        #expect(try db.stream(named: "sd15") == nil)
    }

    @Test func appendCreatesTheStreamOnFirstPush() throws {
        let db = try ScaleDatabase.inMemory()
        try db.append(makeEntry(seq: 1), updating: makeStream())
        #expect(try db.stream(named: "sd15") == makeStream())
        #expect(try db.lastSeq(stream: "sd15") == 1)
    }

    @Test func appendToUnknownStreamThrows() throws {
        let db = try ScaleDatabase.inMemory()
        #expect(throws: StoreError.unknownStream("sd15")) {
            try db.append(makeEntry(seq: 1))
        }
    }

    @Test func appendWithAnotherStreamsRecordThrows() throws {
        let db = try ScaleDatabase.inMemory()
        #expect(throws: StoreError.streamMismatch(expected: "sd15", got: "flux")) {
            try db.append(makeEntry("sd15", seq: 1), updating: makeStream("flux"))
        }
        #expect(try db.streams().isEmpty)
    }

    @Test func seqIsPerStream() throws {
        let db = try ScaleDatabase.inMemory()
        try fill(db, "sd15", count: 3)
        try fill(db, "flux", count: 1)
        #expect(try db.lastSeq(stream: "flux") == 1)
        #expect(try db.journal(stream: "flux", after: 0).map(\.stream) == ["flux"])
        #expect(try db.lastSeq(stream: "unknown") == 0)
    }

    @Test func journalAfterSeq() throws {
        let db = try ScaleDatabase.inMemory()
        try fill(db, count: 10)
        #expect(try db.journal(stream: "sd15", after: 7).map(\.seq) == [8, 9, 10])
        #expect(try db.journal(stream: "sd15", after: 10).isEmpty)
    }

    @Test func lastEntriesAreTheNewestOldestFirstWithSummaries() throws {
        let db = try ScaleDatabase.inMemory()
        try fill(db, count: 10)
        let window = try db.lastEntries(stream: "sd15", count: 4)
        #expect(window == (7...10).map { makeEntry(seq: $0) })
        #expect(try db.lastEntries(stream: "sd15", count: 50).count == 10)
        #expect(try db.lastEntries(stream: "sd15", count: 0).isEmpty)
    }

    @Test func historyIsTheNewestOldestFirstWithoutSummaries() throws {
        let db = try ScaleDatabase.inMemory()
        try fill(db, count: 10)
        let history = try db.history(stream: "sd15", limit: 3)
        var expected = (8...10).map { makeEntry(seq: $0) }
        for i in expected.indices { expected[i].summary = nil }
        #expect(history == expected)
    }

    @Test func negativeCountsThrow() throws {
        let db = try ScaleDatabase.inMemory()
        #expect(throws: StoreError.negativeArgument(name: "limit", value: -1)) {
            try db.history(stream: "sd15", limit: -1)
        }
        #expect(throws: StoreError.negativeArgument(name: "count", value: -2)) {
            try db.lastEntries(stream: "sd15", count: -2)
        }
    }
}
