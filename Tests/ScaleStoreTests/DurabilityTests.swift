import Foundation
import Testing
@testable import ScaleStore

/// Writes one of everything, as a daemon would over a few pushes.
private func writeSample(_ db: ScaleDatabase) throws {
    try fill(db, "sd15", count: 12)
    try fill(db, "flux", count: 2)
    try db.writeSnapshot(Snapshot(stream: "sd15", seq: 10, time: time(10), state: Data("s10".utf8)), keepSummariesOfLast: 4)
    try db.record(makeAlert("sd15", "variance_drift", "pending", at: 11))
    try db.record(makeAlert("sd15", "variance_drift", "firing", at: 12, since: 10))
    try db.record(makeAlert("flux", "nonfinite", "firing", at: 2))
}

/// Checks everything `writeSample` wrote is there.
private func expectSample(_ db: ScaleDatabase, sourceLocation: SourceLocation = #_sourceLocation) throws {
    #expect(try db.streams() == [makeStream("flux"), makeStream("sd15")], sourceLocation: sourceLocation)
    let journal = try db.journal(stream: "sd15", after: 0)
    #expect(journal.map(\.seq) == Array(1...12), sourceLocation: sourceLocation)
    for entry in journal {
        var expected = makeEntry("sd15", seq: entry.seq)
        if entry.seq <= 6 { expected.summary = nil }
        #expect(entry == expected, sourceLocation: sourceLocation)
    }
    #expect(try db.journal(stream: "flux", after: 0) == [makeEntry("flux", seq: 1), makeEntry("flux", seq: 2)],
            sourceLocation: sourceLocation)
    #expect(try db.latestSnapshot(stream: "sd15")
                == Snapshot(stream: "sd15", seq: 10, time: time(10), state: Data("s10".utf8)),
            sourceLocation: sourceLocation)
    #expect(try db.alertEvents() == [
        makeAlert("sd15", "variance_drift", "pending", at: 11),
        makeAlert("sd15", "variance_drift", "firing", at: 12, since: 10),
        makeAlert("flux", "nonfinite", "firing", at: 2),
    ], sourceLocation: sourceLocation)
    #expect(try db.currentAlerts(includeResolved: true, limit: 10) == [
        makeAlert("flux", "nonfinite", "firing", at: 2),
        makeAlert("sd15", "variance_drift", "firing", at: 12, since: 10),
    ], sourceLocation: sourceLocation)
}

@Suite struct DurabilityTests {
    @Test func fileDatabaseUsesWALAndFullSync() throws {
        try withFileDatabase { db, _ in
            let settings = try db.durability()
            #expect(settings == DurabilitySettings(journalMode: "wal", synchronous: 2))
        }
    }

    @Test func everythingSurvivesReopen() throws {
        try withFileDatabase { db, path in
            try writeSample(db)
            try db.close()
            #expect(throws: (any Error).self) { try db.streams() }

            let reopened = try ScaleDatabase(path: path)
            try expectSample(reopened)
            // The journal goes on where it stopped.
            #expect(throws: StoreError.sequenceGap(stream: "sd15", expected: 13, got: 1)) {
                try reopened.append(makeEntry("sd15", seq: 1))
            }
            try reopened.append(makeEntry("sd15", seq: 13))
            #expect(try reopened.durability().synchronous == 2)
        }
    }

    @Test func commitsAreVisibleToASecondOpenerWithoutClosing() throws {
        // Another process opening the file sees exactly what sits in the
        // write-ahead log, which is what a restart after kill -9 sees.
        try withFileDatabase { db, path in
            try writeSample(db)
            let other = try ScaleDatabase(path: path)
            try expectSample(other)

            try other.append(makeEntry("flux", seq: 3))
            #expect(try db.lastSeq(stream: "flux") == 3)
            #expect(throws: StoreError.sequenceGap(stream: "flux", expected: 4, got: 3)) {
                try db.append(makeEntry("flux", seq: 3))
            }
        }
    }

    @Test func createsParentDirectories() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("state/scaled/scaled.db")
        let db = try ScaleDatabase(path: path)
        try db.upsertStream(makeStream())
        #expect(db.path == path)
        #expect(FileManager.default.fileExists(atPath: path))
    }

    @Test func aFileThatIsNotADatabaseIsReported() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("scaled.db")
        try Data(repeating: 0x42, count: 4096).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: StoreError.self) { try ScaleDatabase(path: path) }
        guard case .cannotOpen(let failedPath, _) = error else {
            Issue.record("expected cannotOpen, got \(String(describing: error))")
            return
        }
        #expect(failedPath == path)
    }

    @Test func aDatabaseFromANewerVersionIsRefused() throws {
        try withFileDatabase { db, path in
            try db.writer.write { db in
                try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v999')")
            }
            try db.close()
            let error = #expect(throws: StoreError.self) { try ScaleDatabase(path: path) }
            #expect(error?.description.contains("newer version") == true)
        }
    }

    @Test func concurrentWritersAndReaders() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let db = try ScaleDatabase(path: directory.path("scaled.db"))
            let names = (0..<8).map { "stream-\($0)" }
            for name in names {
                group.addTask {
                    try db.upsertStream(makeStream(name))
                    for seq in Int64(1)...40 {
                        try db.append(makeEntry(name, seq: seq))
                        _ = try db.history(stream: name, limit: 5)
                    }
                }
            }
            try await group.waitForAll()
            for name in names {
                #expect(try db.journal(stream: name, after: 0) == (1...40).map { makeEntry(name, seq: $0) })
            }
        }
    }

    #if os(Linux)
    /// Set in the child process of `acknowledgedWritesSurviveKill9`.
    static let childVariable = "SCALESTORE_KILLED_WRITER_DB"

    @Test func acknowledgedWritesSurviveKill9() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("scaled.db")
        let log = directory.path("child.log")
        try Data().write(to: URL(fileURLWithPath: log))
        let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))

        // Re-run this test binary, selecting only the writer below.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        child.arguments = ["--testing-library", "swift-testing", "--filter", "DurabilityTests/killedWriter"]
        child.environment = ProcessInfo.processInfo.environment.merging([Self.childVariable: path]) { $1 }
        child.standardOutput = logHandle
        child.standardError = logHandle
        try child.run()
        child.waitUntilExit()
        try logHandle.close()

        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(child.terminationReason == .uncaughtSignal, "child output:\n\(output)")
        #expect(child.terminationStatus == SIGKILL, "child output:\n\(output)")
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))

        let db = try ScaleDatabase(path: path)
        try expectSample(db)
    }

    /// The child: writes, then dies by SIGKILL without closing the database.
    @Test(.enabled(if: ProcessInfo.processInfo.environment[childVariable] != nil))
    func killedWriter() throws {
        let path = try #require(ProcessInfo.processInfo.environment[Self.childVariable])
        let db = try ScaleDatabase(path: path)
        try writeSample(db)
        kill(getpid(), SIGKILL)
    }
    #endif
}
