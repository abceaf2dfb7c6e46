import Foundation
import LatentStats
import Testing
import TestSupport
@testable import StreamModel

/// A seeded normal generator (SplitMix64 + Box–Muller), so every run sees the same data.
struct Gaussian {
    var rng: SplitMix64
    var spare: Double?

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func next() -> Double {
        if let s = spare { spare = nil; return s }
        let r = (-2 * log(rng.openUniform())).squareRoot(), t = 2 * Double.pi * rng.openUniform()
        spare = r * sin(t)
        return r * cos(t)
    }

    mutating func batch(samples: Int, perSample: Int, mean: Double = 0, std: Double = 1) -> [Double] {
        (0..<(samples * perSample)).map { _ in mean + std * next() }
    }
}

/// Drives a StreamState as the daemon does for one push: summarize, apply, evaluate.
struct Driver {
    var state: StreamState
    var seq: Int64 = 0
    let t0 = Date(timeIntervalSince1970: 1_700_000_000)
    /// Evaluations after which `bucket_mismatch`'s condition held, and the buckets outside each time.
    var mismatchEvaluations = 0
    var bucketTestsOutside = 0
    var bucketTests = 0
    var events: [AlertEvent] = []

    init(config: StreamConfig = StreamConfig()) { state = StreamState(name: "s", config: config, now: t0) }

    @discardableResult
    mutating func push(_ values: [Double], shape: [Int], tag: String?) throws -> PushFindings {
        let n = state.normalizer(channels: shape[1])
        let r = try BatchSummary.samplesOf(values, shape: shape, normalizer: n,
                                           excludeNonfiniteSamples: state.config.excludeNonfiniteSamples)
        seq += 1
        let now = t0 + Double(seq)
        let entry = WindowEntry(summary: r.summary, clamp: r.clamp, referenceVersion: state.referenceVersion)
        let (_, findings) = state.apply(entry, tag: tag, samples: r.samples, seq: seq, now: now)
        events += state.evaluateFlags(latest: r.summary, now: now)
        events += state.evaluateDetailFlags(now: now)
        let f = state.bucketFindings()
        bucketTests += f.count
        let outside = f.filter { $0.finding.outside }.count
        bucketTestsOutside += outside
        if outside > 0 { mismatchEvaluations += 1 }
        return findings
    }

    func firing(_ kind: AlertKind) -> Bool { state.alerts[kind]?.phase == .firing }
}

@Suite struct BucketTests {
    static let shape = [8, 4, 8, 8]
    static let perSample = 4 * 8 * 8

    /// The no-false-alarm test: 10,000 stationary batches over 8 tags,
    /// reference frozen from the data when the window first fills.
    @Test func stationaryBucketsNeverMismatch() throws {
        var g = Gaussian(seed: 13)
        var d = Driver()
        let batches = 10_000
        for i in 0..<batches {
            try d.push(g.batch(samples: 8, perSample: Self.perSample, mean: 0.3, std: 2.5), shape: Self.shape, tag: "t\(i % 8)")
        }
        #expect(d.state.buckets.order.count == 8)
        #expect(d.state.reference != nil)
        #expect(d.bucketTests > 70_000)
        print("bucket_mismatch false alarms: \(d.mismatchEvaluations) of \(batches) evaluations, \(d.bucketTestsOutside) of \(d.bucketTests) bucket tests outside the band")
        #expect(d.mismatchEvaluations == 0)
        #expect(!d.events.contains { $0.kind == .bucketMismatch })
    }

    /// A bucket whose std is 10% higher fires `bucket_mismatch`, names only
    /// that bucket, while the stream as a whole stays within its tolerance.
    @Test func oneBucketWithTenPercentMoreSpreadFires() throws {
        var g = Gaussian(seed: 7)
        var config = StreamConfig()
        config.reference = .scalar(scalingFactor: 1, shiftFactor: 0)
        var d = Driver(config: config)
        for i in 0..<2_000 {
            let tag = "t\(i % 8)"
            try d.push(g.batch(samples: 8, perSample: Self.perSample, std: tag == "t3" ? 1.1 : 1.0), shape: Self.shape, tag: tag)
        }
        #expect(d.firing(.bucketMismatch))
        let message = d.state.alerts[.bucketMismatch]?.message ?? ""
        #expect(message.contains("bucket t3: scaling_factor 0.9"))
        for other in ["t0", "t1", "t2", "t4", "t5", "t6", "t7"] { #expect(!message.contains("bucket \(other):")) }
        #expect(!d.firing(.varianceDrift))
        let outside = d.state.bucketFindings().filter { $0.finding.outside }.map(\.name)
        #expect(outside == ["t3"])
    }

    /// Per-bucket statistics are the merge of exactly the batches with that tag.
    @Test func bucketsHoldTheirOwnBatches() throws {
        var g = Gaussian(seed: 3)
        var d = Driver()
        var byTag: [String: [Double]] = [:]
        for i in 0..<30 {
            let tag = ["a", "b", "c"][i % 3]
            let v = g.batch(samples: 4, perSample: 16, mean: Double(i % 3), std: 1 + Double(i % 3))
            byTag[tag, default: []] += v
            try d.push(v, shape: [4, 4, 2, 2], tag: tag)
        }
        for (tag, values) in byTag {
            let b = try #require(d.state.buckets.buckets[tag])
            let mean = values.reduce(0, +) / Double(values.count)
            let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
            #expect(abs(b.summary.total.mean - mean) <= 1e-9 * max(1, abs(mean)))
            #expect(abs(b.summary.total.std! - std) <= 1e-9 * std)
            #expect(b.summary.samples == values.count / 16)
        }
    }

    @Test func tagsBeyondMaxBucketsGoToOther() throws {
        var config = StreamConfig()
        config.maxBuckets = 2
        var d = Driver(config: config)
        var g = Gaussian(seed: 1)
        for tag in ["a", "b", "c", "d", "a"] {
            try d.push(g.batch(samples: 2, perSample: 16), shape: [2, 4, 2, 2], tag: tag)
        }
        #expect(d.state.buckets.order == ["a", "b"])
        #expect(d.state.buckets.overflowed)
        #expect(d.state.buckets.buckets["(other)"]?.summary.samples == 4)
        #expect(d.state.buckets.buckets["a"]?.summary.samples == 4)
        #expect(d.state.cumulative?.samples == 10)
    }
}
