import Foundation
import GRDB
import Testing
@testable import ScaleStore
import StreamModel

func makeAlert(_ stream: String, _ kind: String, _ state: String, at: Double, since: Double? = nil) -> AlertTransition {
    AlertTransition(
        stream: stream, kind: AlertKind(rawValue: kind)!, state: AlertState(rawValue: state)!, since: time(since ?? at - 1),
        resolvedAt: state == "resolved" ? time(at) : nil,
        message: "\(kind) is \(state) on \(stream)", value: state == "resolved" ? nil : 1.08,
        severity: kind == "nonfinite" ? .critical : .warning, at: time(at))
}

@Suite struct AlertTests {
    @Test func transitionsRoundTrip() throws {
        try withFileDatabase { db, _ in
            try db.upsertStream(makeStream("sd15"))
            let transitions = [
                makeAlert("sd15", "variance_drift", "pending", at: 10),
                makeAlert("sd15", "variance_drift", "firing", at: 11, since: 9),
                makeAlert("sd15", "variance_drift", "resolved", at: 12, since: 9),
            ]
            for t in transitions { try db.record(t) }
            #expect(try db.alertEvents(stream: "sd15") == transitions)
            #expect(try db.alertEvents() == transitions)
            // Only the last state of (stream, kind) is current.
            #expect(try db.currentAlerts(includeResolved: true, limit: 10) == [transitions[2]])
        }
    }

    @Test func activeFirstThenRecentResolved() throws {
        let db = try ScaleDatabase.inMemory()
        for name in ["a", "b", "c"] { try db.upsertStream(makeStream(name)) }
        let resolvedOld = makeAlert("a", "mean_drift", "resolved", at: 5)
        let resolvedNew = makeAlert("b", "mean_drift", "resolved", at: 50)
        let resolvedMid = makeAlert("c", "mean_drift", "resolved", at: 20)
        let pending = makeAlert("a", "variance_drift", "pending", at: 30, since: 29)
        let firingLate = makeAlert("b", "nonfinite", "firing", at: 40, since: 12)
        let firingEarly = makeAlert("c", "clamp_out_of_range", "firing", at: 41, since: 3)
        for t in [resolvedOld, resolvedNew, resolvedMid, pending, firingLate, firingEarly] {
            try db.record(t)
        }

        #expect(try db.currentAlerts(includeResolved: true, limit: 10)
            == [firingEarly, firingLate, pending, resolvedNew, resolvedMid, resolvedOld])
        #expect(try db.currentAlerts(includeResolved: true, limit: 1)
            == [firingEarly, firingLate, pending, resolvedNew])
        #expect(try db.currentAlerts(includeResolved: false, limit: 10)
            == [firingEarly, firingLate, pending])
        #expect(try db.alertEvents(stream: "a") == [resolvedOld, pending])
    }

    /// The type allows only the three states; the schema's CHECK keeps a
    /// hand-written row to them too, and a stored unknown kind fails to load.
    @Test func invalidStateIsRejected() throws {
        let db = try ScaleDatabase.inMemory()
        try db.upsertStream(makeStream("sd15"))
        #expect(throws: DatabaseError.self) {
            try db.writer.write { try $0.execute(sql: """
                INSERT INTO alerts (stream, kind, state, since, message, severity, at)
                VALUES ('sd15', 'nonfinite', 'on', 0, '', 'critical', 0)
                """) }
        }
        try db.writer.write { try $0.execute(sql: """
            INSERT INTO alerts (stream, kind, state, since, message, severity, at)
            VALUES ('sd15', 'bogus_kind', 'firing', 0, '', 'critical', 0)
            """) }
        #expect(throws: (any Error).self) { try db.currentAlerts() }
        #expect(try db.alertEvents().isEmpty)
    }

    @Test func alertForUnknownStreamIsRejected() throws {
        let db = try ScaleDatabase.inMemory()
        #expect(throws: StoreError.unknownStream("ghost")) {
            try db.record(makeAlert("ghost", "nonfinite", "firing", at: 1))
        }
    }
}
