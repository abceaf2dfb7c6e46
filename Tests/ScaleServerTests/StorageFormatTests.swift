import Foundation
import LatentStats
import ScaleStore
import Testing
@testable import ScaleServer
import StreamModel

/// The journal and snapshots are written in summary format version 2; databases
/// written by older builds (version 1) must load exactly.
@Suite struct StorageFormatTests {
    static let t0 = Date(timeIntervalSince1970: 1_700_000_000)

    /// The same pushes, at the same times, to a fresh database written in `format`.
    static func run(_ format: SummaryFormat, pushes: Int, in dir: URL) async throws -> (ScaleDatabase, StreamState) {
        let db = try ScaleDatabase(path: dir.appendingPathComponent("\(format).sqlite").path)
        var config = StreamConfig()
        config.windowBatches = 6
        config.clipSample = true
        config.maxBuckets = 2
        let actor = StreamActor(state: StreamState(name: "s", config: config, now: t0), persisted: false,
                                db: db, logger: .init(label: "test"), storageFormat: format)
        let layout = try TensorLayout(shape: [4, 3, 16], dtype: .float64)
        for i in 0..<pushes {
            let (normalizer, version) = try await actor.prepare(channels: 3)
            var values = StreamRestoreTests.batch(seed: UInt64(i), scale: 1 + Double(i % 4))
            values += StreamRestoreTests.batch(seed: UInt64(i) + 50_000, scale: 2)
            if i % 9 == 0 { values[7] = .infinity }
            let r = try values.withUnsafeBytes { try BatchSummary.ingestSamples(bytes: $0, layout: layout, normalizer: normalizer) }
            _ = try await actor.apply(WindowEntry(summary: r.summary, clamp: r.clamp, referenceVersion: version), samples: r.samples,
                                      meta: PushMeta(step: Int64(i), tag: i % 5 == 0 ? nil : "t\(i % 3)"),
                                      now: t0 + Double(i + 1))
        }
        return (db, await actor.state)
    }

    @Test func versionOneDatabaseRestoresEqualToVersionTwo() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("format-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        // Past one snapshot, so that restore reads a snapshot and replays rows.
        let pushes = StreamActor.snapshotEvery + 13
        let (db1, live1) = try await Self.run(.fixed, pushes: pushes, in: dir)
        let (db2, live2) = try await Self.run(.compact, pushes: pushes, in: dir)

        // What each database holds is in its format.
        let rows1 = try db1.lastEntries(stream: "s", count: 6), rows2 = try db2.lastEntries(stream: "s", count: 6)
        let snap1 = try #require(try db1.latestSnapshot(stream: "s")), snap2 = try #require(try db2.latestSnapshot(stream: "s"))
        let stored: [(Data, UInt8)] = rows1.map { ($0.summary!, 1) } + rows2.map { ($0.summary!, 2) }
            + [(snap1.state, 1), (snap2.state, 2)]
        for (data, version) in stored {
            #expect(Array(data[16..<21]) == Array("LSBS".utf8) + [version])
        }
        let bytes1 = rows1.reduce(0) { $0 + $1.summary!.count }, bytes2 = rows2.reduce(0) { $0 + $1.summary!.count }
        #expect(bytes2 < bytes1 * 3 / 4, "journal rows: \(bytes2) B in version 2, \(bytes1) B in version 1")

        let restored1 = try StreamPersistence.restore(try #require(try db1.stream(named: "s")), from: db1)
        let restored2 = try StreamPersistence.restore(try #require(try db2.stream(named: "s")), from: db2)
        for (restored, live) in [(restored1, live1), (restored2, live2), (restored1, restored2), (live1, live2)] {
            #expect(restored.cumulative == live.cumulative && live.cumulative != nil)
            #expect(restored.window == live.window && live.window.count == 6)
            #expect(restored.windowSummaryWithSketch == live.windowSummaryWithSketch)
            #expect(restored.windowClamp == live.windowClamp && live.windowClamp != nil)
            #expect(restored.clampSinceReference == live.clampSinceReference)
            #expect(restored.buckets == live.buckets && live.buckets.overflowed)
            #expect(restored.sampleWindow == live.sampleWindow)
            #expect(restored.seq == live.seq && live.seq == Int64(pushes))
            #expect(restored.alerts == live.alerts)
            #expect(restored.statusJSON(flags: .array([])) == live.statusJSON(flags: .array([])))
        }
    }

    /// Journal blobs written by an older build (the seed corpus of
    /// FuzzStoredState, taken from a real `scaled`): version 1 as this build
    /// writes it is byte for byte what they hold, and version 2 keeps every
    /// value. (The version 2 seeds, from this build, re-encode to themselves.)
    @Test func olderBuildsJournalBlobsReencodeByteForByte() throws {
        let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../fuzz/corpus/FuzzStoredState").standardizedFileURL
        var checked = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: corpus.path).sorted() {
            let data = try Data(contentsOf: corpus.appendingPathComponent(name))
            guard data.first != UInt8(ascii: "{"), let (entry, details) = try? StreamPersistence.decodeWithDetails(data),
                  let details else { continue }
            let format = try #require(SummaryFormat(of: data[16...]))
            #expect(StreamPersistence.encode(entry, details: details, format: format) == data, "\(name)")
            guard format == .fixed else { continue }   // seeds this build wrote
            let compact = StreamPersistence.encode(entry, details: details, format: .compact)
            let (e2, d2) = try StreamPersistence.decodeWithDetails(compact)
            #expect(e2 == entry && d2 == details)
            #expect(compact.count < data.count)
            checked += 1
        }
        #expect(checked >= 3)
    }

    /// A push whose write fails leaves the stream in memory as it was: the
    /// window, the per-sample values, buckets, alerts, cumulative, seq.
    @Test func aFailedWriteLeavesMemoryUnchanged() async throws {
        let db = try ScaleDatabase.inMemory()
        var config = StreamConfig()
        config.windowBatches = 3
        config.clipSample = true
        let actor = StreamActor(state: StreamState(name: "s", config: config, now: Self.t0), persisted: false,
                                db: db, logger: .init(label: "test"))
        // 1,500 samples a batch: the window's per-sample values are over the cap, so a push trims them.
        let layout = try TensorLayout(shape: [1500, 3, 2], dtype: .float64)
        func push(_ i: Int, nan: Bool = false, tag: String? = nil) async throws -> JSONValue {
            let (normalizer, version) = try await actor.prepare(channels: 3)
            var state = UInt64(i) &+ 7
            var values = (0..<(1500 * 6)).map { _ in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return (Double(state >> 11) / Double(1 << 53) - 0.5) * (1 + Double(i % 2))
            }
            if nan { values[3] = .nan }
            let r = try values.withUnsafeBytes { try BatchSummary.ingestSamples(bytes: $0, layout: layout, normalizer: normalizer) }
            return try await actor.apply(WindowEntry(summary: r.summary, clamp: r.clamp, referenceVersion: version), samples: r.samples,
                                         meta: PushMeta(step: Int64(i), tag: tag), now: Self.t0 + Double(i + 1))
        }
        for i in 0..<4 { _ = try await push(i, tag: "a") }
        let before = await actor.state
        #expect(before.frozen != nil && before.window.count == 3)
        #expect(before.sampleWindow.batches.first?.means.isEmpty == true)   // trimmed by the cap
        // Someone else writes the next seq: the actor's write fails on the gap.
        try db.append(JournalEntry(stream: "s", seq: before.seq + 1, step: nil, tag: nil, time: Self.t0, samples: 1,
                                   elements: 1, nonfinite: 0, mean: nil, std: nil, normalizedStd: nil, clampFraction: nil, summary: nil))
        do {
            _ = try await push(4, nan: true, tag: "new")   // would fire nonfinite and open a bucket
            Issue.record("the push should have failed")
        } catch let e as APIError {
            #expect(e.code == "storage_failed")
        }
        let after = await actor.state
        #expect(after.window == before.window)
        #expect(after.windowSummary == before.windowSummary)
        #expect(after.recentSummary == before.recentSummary)
        #expect(after.sampleWindow == before.sampleWindow)
        #expect(after.cumulative == before.cumulative)
        #expect(after.clampSinceReference == before.clampSinceReference)
        #expect(after.buckets == before.buckets && after.buckets.buckets["new"] == nil)
        #expect(after.alerts == before.alerts && after.alerts[.nonfinite]?.phase != .firing)
        #expect(after.seq == before.seq)
        #expect(after.lastPushAt == before.lastPushAt)
        #expect(after.statusJSON(flags: .array([])) == before.statusJSON(flags: .array([])))
    }
}
