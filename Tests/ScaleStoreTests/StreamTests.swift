import Foundation
import Testing
import ScaleStore

@Suite struct StreamTests {
    @Test func roundTrip() throws {
        try withFileDatabase { db, _ in
            let record = makeStream("sd15")
            try db.upsertStream(record)
            #expect(try db.stream(named: "sd15") == record)
            #expect(try db.stream(named: "sdxl") == nil)
        }
    }

    @Test func emptyBlobsRoundTrip() throws {
        try withFileDatabase { db, _ in
            let record = StreamRecord(
                name: "empty", config: Data(), state: Data(), createdAt: time(0), updatedAt: time(0))
            try db.upsertStream(record)
            #expect(try db.stream(named: "empty") == record)
        }
    }

    @Test func upsertReplacesConfigAndKeepsCreatedAt() throws {
        try withFileDatabase { db, _ in
            try db.upsertStream(makeStream("sd15"))
            var changed = makeStream("sd15", config: #"{"window_batches":10}"#)
            changed.state = Data(#"{"reference":{"scaling_factor":0.18215}}"#.utf8)
            changed.createdAt = time(500)
            changed.updatedAt = time(600)
            try db.upsertStream(changed)

            let stored = try #require(try db.stream(named: "sd15"))
            #expect(stored.config == changed.config)
            #expect(stored.state == changed.state)
            #expect(stored.updatedAt == time(600))
            #expect(stored.createdAt == time(0))
        }
    }

    @Test func streamsAreOrderedByName() throws {
        try withFileDatabase { db, _ in
            for name in ["wan", "flux", "sd15"] { try db.upsertStream(makeStream(name)) }
            #expect(try db.streams().map(\.name) == ["flux", "sd15", "wan"])
        }
    }

    @Test func datesRoundTripBelowAMicrosecond() throws {
        try withFileDatabase { db, _ in
            var record = makeStream("now")
            record.createdAt = Date()
            record.updatedAt = Date(timeIntervalSinceReferenceDate: record.createdAt.timeIntervalSinceReferenceDate + 0.000_3)
            try db.upsertStream(record)
            let stored = try #require(try db.stream(named: "now"))
            #expect(abs(stored.createdAt.timeIntervalSince(record.createdAt)) < 1e-6)
            #expect(abs(stored.updatedAt.timeIntervalSince(record.updatedAt)) < 1e-6)
            #expect(stored.updatedAt > stored.createdAt)
        }
    }

    @Test func deleteRemovesStreamAndAllItsData() throws {
        try withFileDatabase { db, _ in
            try fill(db, "sd15", count: 5)
            try fill(db, "flux", count: 3)
            for stream in ["sd15", "flux"] {
                try db.writeSnapshot(Snapshot(stream: stream, seq: 3, time: time(3), state: Data("s".utf8)), keepSummariesOfLast: 1)
                try db.record(makeAlert(stream, "nonfinite", "firing", at: 4))
            }

            #expect(try db.deleteStream(named: "sd15"))
            #expect(try db.deleteStream(named: "sd15") == false)

            #expect(try db.stream(named: "sd15") == nil)
            #expect(try db.journal(stream: "sd15", after: 0).isEmpty)
            #expect(try db.latestSnapshot(stream: "sd15") == nil)
            #expect(try db.alertEvents(stream: "sd15").isEmpty)
            #expect(try db.currentAlerts().map(\.stream) == ["flux"])
            // The other stream is untouched.
            #expect(try db.journal(stream: "flux", after: 0).count == 3)
            #expect(try db.latestSnapshot(stream: "flux") != nil)
            #expect(try db.alertEvents(stream: "flux").count == 1)
        }
    }

    @Test func resetClearsStatisticsAndKeepsTheStream() throws {
        try withFileDatabase { db, _ in
            try fill(db, "sd15", count: 5)
            try fill(db, "flux", count: 2)
            try db.writeSnapshot(Snapshot(stream: "sd15", seq: 4, time: time(4), state: Data("s".utf8)), keepSummariesOfLast: 1)
            try db.record(makeAlert("sd15", "variance_drift", "firing", at: 5))
            try db.record(makeAlert("flux", "variance_drift", "firing", at: 5))

            var cleared = makeStream("sd15")
            cleared.state = Data(#"{"reference":null,"reset":true}"#.utf8)
            try db.resetStream(named: "sd15", updating: cleared)

            #expect(try db.stream(named: "sd15")?.state == cleared.state)
            #expect(try db.lastSeq(stream: "sd15") == 0)
            #expect(try db.journal(stream: "sd15", after: 0).isEmpty)
            #expect(try db.history(stream: "sd15", limit: 10).isEmpty)
            #expect(try db.latestSnapshot(stream: "sd15") == nil)
            #expect(try db.alertEvents(stream: "sd15").isEmpty)
            #expect(try db.currentAlerts().map(\.stream) == ["flux"])
            #expect(try db.journal(stream: "flux", after: 0).count == 2)

            // The journal starts again at 1.
            try db.append(makeEntry("sd15", seq: 1))
            #expect(try db.lastSeq(stream: "sd15") == 1)
        }
    }

    @Test func resetOfUnknownStreamThrows() throws {
        let db = try ScaleDatabase.inMemory()
        #expect(throws: StoreError.unknownStream("nope")) {
            try db.resetStream(named: "nope")
        }
    }
}
