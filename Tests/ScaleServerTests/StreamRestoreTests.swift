import Foundation
import LatentStats
import ScaleStore
import Testing
@testable import ScaleServer
import StreamModel

/// Restart must rebuild a stream exactly: snapshot + journal replay + window.
@Suite struct StreamRestoreTests {
    static func batch(seed: UInt64, scale: Double) -> [Double] {
        var state = seed
        return (0..<(2 * 3 * 16)).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (Double(state >> 11) / Double(1 << 53) - 0.5) * scale
        }
    }

    @Test func restoreEqualsTheLiveState() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("restore-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = try ScaleDatabase(path: dir.appendingPathComponent("db.sqlite").path)
        var config = StreamConfig()
        config.windowBatches = 4
        config.clipSample = true
        let actor = StreamActor(state: StreamState(name: "s", config: config, now: Date()), persisted: false,
                                db: db, logger: .init(label: "test"))
        for i in 0..<(StreamActor.snapshotEvery + 9) {
            let layout = try TensorLayout(shape: [2, 3, 16], dtype: .float64)
            let (normalizer, version) = try await actor.prepare(channels: 3)
            let values = Self.batch(seed: UInt64(i), scale: 1 + Double(i % 5))
            let (s, c) = try values.withUnsafeBytes { try BatchSummary.ingest(bytes: $0, layout: layout, normalizer: normalizer) }
            _ = try await actor.apply(WindowEntry(summary: s, clamp: c, referenceVersion: version), meta: PushMeta(step: Int64(i)), now: Date())
        }
        let live = await actor.state
        #expect(live.frozen != nil)            // the window filled with nothing declared
        #expect(try db.latestSnapshot(stream: "s") != nil)
        let restored = try StreamPersistence.restore(try #require(try db.stream(named: "s")), from: db)
        #expect(restored.cumulative == live.cumulative)
        #expect(restored.window == live.window)
        #expect(restored.windowSummary == live.windowSummary)
        #expect(restored.windowSummaryWithSketch == live.windowSummaryWithSketch)
        #expect(restored.windowClamp == live.windowClamp && live.windowClamp != nil)
        #expect(restored.clampSinceReference == live.clampSinceReference)
        #expect(restored.frozen?.reference == live.frozen?.reference)
        #expect(restored.referenceVersion == live.referenceVersion)
        #expect(restored.seq == live.seq)
        #expect(restored.config == live.config)
        #expect(restored.statusJSON(flags: .array([]))["cumulative"] == live.statusJSON(flags: .array([]))["cumulative"])
    }
}
