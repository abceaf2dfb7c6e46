import Foundation
import LatentStats
import ScaleStore
import Testing
@testable import ScaleServer
import StreamModel

/// Buckets, outlier counts and the sample window survive a restart exactly,
/// through a snapshot and the journal after it; and stored configs from
/// before these keys existed still load.
@Suite struct BucketRestoreTests {
    @Test func restoreKeepsBucketsAndOutliers() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bucket-restore-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = try ScaleDatabase(path: dir.appendingPathComponent("db.sqlite").path)
        var config = StreamConfig()
        config.windowBatches = 5
        config.clipSample = true
        config.maxBuckets = 3
        let actor = StreamActor(state: StreamState(name: "s", config: config, now: Date()), persisted: false,
                                db: db, logger: .init(label: "test"))
        let layout = try TensorLayout(shape: [4, 3, 16], dtype: .float64)
        for i in 0..<(StreamActor.snapshotEvery + 11) {
            let (normalizer, version) = try await actor.prepare(channels: 3)
            var values = StreamRestoreTests.batch(seed: UInt64(i), scale: 1 + Double(i % 3))
            values += StreamRestoreTests.batch(seed: UInt64(i) + 10_000, scale: 1 + Double(i % 3))
            if i % 7 == 0 { values[5] = .nan }
            let r = try values.withUnsafeBytes { try BatchSummary.ingestSamples(bytes: $0, layout: layout, normalizer: normalizer) }
            _ = try await actor.apply(WindowEntry(summary: r.summary, clamp: r.clamp, referenceVersion: version), samples: r.samples,
                                      meta: PushMeta(step: Int64(i), tag: i % 11 == 0 ? nil : "t\(i % 5)"), now: Date())
        }
        let live = await actor.state
        #expect(live.buckets.order == ["t1", "t2", "t3"])
        #expect(live.buckets.overflowed)
        #expect(live.buckets.streamOutliers > 0)
        #expect(try db.latestSnapshot(stream: "s") != nil)
        let restored = try StreamPersistence.restore(try #require(try db.stream(named: "s")), from: db)
        #expect(restored.buckets == live.buckets)
        #expect(restored.sampleWindow == live.sampleWindow)
        #expect(restored.bucketsJSON == live.bucketsJSON)
        #expect(restored.outliersJSON == live.outliersJSON)
    }

    @Test func storedConfigWithoutTheNewKeysGetsDefaults() throws {
        let old = #"{"alert_for_batches":3,"channel_axis":1,"clamp_max_fraction":0.001,"drift_tolerance":0.05,"reference":null,"scheduler":{"clip_sample":false,"clip_sample_range":1,"thresholding":false},"target_std":1,"window_batches":100}"#
        let c = try JSONDecoder().decode(StoredConfig.self, from: Data(old.utf8)).config
        #expect(c == StreamConfig())
        #expect(c.maxBuckets == 64 && c.outlierZ == 8 && c.outlierMaxFraction == 0.01 && !c.excludeNonfiniteSamples)
    }

    @Test(arguments: [#""max_buckets":0"#, #""max_buckets":"x""#, #""outlier_z":-1"#, #""outlier_max_fraction":1"#,
                      #""sample_std_max":0"#, #""exclude_nonfinite_samples":1"#])
    func storedConfigWithABadNewKeyIsRefused(_ bad: String) {
        let text = #"{"alert_for_batches":3,"channel_axis":1,"clamp_max_fraction":0.001,"drift_tolerance":0.05,"reference":null,"scheduler":{"clip_sample":false,"clip_sample_range":1,"thresholding":false},"target_std":1,"window_batches":100,"#
            + bad + "}"
        #expect(throws: (any Error).self) { try JSONDecoder().decode(StoredConfig.self, from: Data(text.utf8)) }
    }

    @Test func newKeysRoundTrip() throws {
        let c = try StreamConfig().applying(try JSONValue.parse(Data(#"{"max_buckets": 9, "outlier_z": 5.5, "sample_mean_abs_max": 2, "sample_std_max": 3, "outlier_max_fraction": 0.2, "exclude_nonfinite_samples": true}"#.utf8)))
        #expect(c.maxBuckets == 9 && c.outlierZ == 5.5 && c.sampleMeanAbsMax == 2 && c.sampleStdMax == 3)
        #expect(c.outlierMaxFraction == 0.2 && c.excludeNonfiniteSamples)
        #expect(try JSONDecoder().decode(StoredConfig.self, from: try JSONEncoder().encode(StoredConfig(c))).config == c)
        #expect(try JSONDecoder().decode(StoredConfig.self, from: c.json.encoded()).config == c)
        let cleared = try c.applying(try JSONValue.parse(Data(#"{"sample_mean_abs_max": null}"#.utf8)))
        #expect(cleared.sampleMeanAbsMax == nil)
    }
}

/// The bucket routes in process.
@Suite struct BucketRouteTests {
    @Test func normalizationAndHistoryByTag() async throws {
        try await RouteTests.app().test(.router) { client in
            for i in 0..<6 {
                let v = RouteTests.values(samples: 4, channels: 2, inner: 16, seed: UInt64(i)).map { $0 * Float(1 + i % 2) }
                let r = try await RouteTests.push(client, "s", v, shape: [4, 2, 16], extra: "&tag=\(i % 2 == 0 ? "a" : "b")&step=\(i)")
                #expect(r.status == .ok)
                #expect(try RouteTests.json(r)["bucket"] == .string(i % 2 == 0 ? "a" : "b"))
                #expect(try RouteTests.json(r)["outliers_total"] == .int(0))
            }
            let st = try RouteTests.json(try await client.execute(uri: "/v1/streams/s", method: .get))
            let a = try #require(st["buckets"]?["a"]), b = try #require(st["buckets"]?["b"])
            #expect(a["samples"] == .int(12) && b["samples"] == .int(12))
            let na = try RouteTests.json(try await client.execute(uri: "/v1/streams/s/normalization?tag=a", method: .get))
            #expect(na["scaling_factor"] == a["scaling_factor"])
            #expect(na["scaling_factor"] != b["scaling_factor"])
            let h = try RouteTests.json(try await client.execute(uri: "/v1/streams/s/history?tag=b", method: .get))
            guard case .array(let rows)? = h["history"] else { Issue.record("no history"); return }
            #expect(rows.map { $0["step"] } == [.int(1), .int(3), .int(5)])
            let missing = try await client.execute(uri: "/v1/streams/s/normalization?tag=zzz", method: .get)
            #expect(missing.status == .notFound)
            #expect(try RouteTests.code(missing) == "bucket_not_found")
            let m = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            #expect(m.contains(#"scaled_bucket_samples_total{stream="s",bucket="a"} 12"#) || m.contains(#"scaled_bucket_samples_total{bucket="a",stream="s"} 12"#))
        }
    }
}
