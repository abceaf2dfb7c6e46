// driftbench: the simulator behind bench/drift.
//
// Usage: driftbench --out DIR [--seeds N] [--big-seeds N] [--stationary-batches N]
//                   [--small-change B] [--small-batches N] [--big-change B] [--big-batches N]
//                   [--workers N] [--only PREFIX]... [--dump DIR]
//
// Each job simulates one stream as `scaled` runs it, with the same LatentStats
// code: per batch `BatchSummary.ingest(bytes:layout:normalizer:)` on float32
// synthetic latents, the rolling window of the last `window_batches`
// summaries, the automatic freeze (shift mode) when the window first fills,
// then `DriftTest.varianceVerdict`/`meanVerdict` fed to an `AlertMachine` per
// flag (`Stream.apply` and `Stream.evaluateFlags` mirror StreamState.apply
// and StreamState.evaluateFlags in Sources/ScaleServer; keep them in step).
// Daemon defaults: window_batches 100, drift_tolerance 0.05,
// alert_for_batches 3, target_std 1, no declared reference.
//
// Jobs: stationary (4,4,32,32) and (32,4,64,64); a 10% std step, a mean step
// of 0.1·σ, and a linear std drift of +0.05% per batch, each on both shapes
// and several seeds. For every job it writes DIR/<job>.series (one line per
// batch: the batch's population std and mean, as the daemon's history
// reports them) and prints one line of key=value pairs:
//
//   job=... scenario=... shape=4x4x32x32 seed=1 batches=... change=... seconds=...
//   var_fire=b1,b2,... mean_fire=... var_pending=N mean_pending=N
//   max_window_std_dev=... max_window_mean_dev=...
//
// It first prints a check of the normal generator (moments of 10^7 draws and
// the share beyond ±3 and ±4), then one line per job as it finishes, and
// last `total_seconds=... workers=...`. var_fire/mean_fire list the batch indices (0-based) of each transition
// to `firing`, and max_window_*_dev the largest departure of the window's
// normalized std from target_std (relative) and of its normalized mean from
// the baseline, after the freeze.
//
// --dump DIR also writes every batch's raw float32 tensor to DIR/<job>.f32
// (concatenated, C order), so the same data can be pushed to a real `scaled`
// to check that this simulation and the daemon fire at the same batch.

import Foundation
import LatentStats

// MARK: - Random latents

/// xoshiro256+ seeded through SplitMix64: fast and good enough for floats.
struct Xoshiro256 {
    var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64
    init(seed: UInt64) {
        var z = seed
        func splitmix() -> UInt64 {
            z &+= 0x9E37_79B9_7F4A_7C15
            var x = z
            x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
            x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
            return x ^ (x >> 31)
        }
        s0 = splitmix(); s1 = splitmix(); s2 = splitmix(); s3 = splitmix()
    }
    @inline(__always) mutating func next() -> UInt64 {
        let result = s0 &+ s3
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }
    /// A uniform in (0, 1).
    @inline(__always) mutating func uniform() -> Float { Float((next() >> 40) + 1) * 0x1p-24 * (1 - 0x1p-25) }
}

/// Standard normals by Marsaglia & Tsang's ziggurat (J. Stat. Softw. 5(8),
/// 2000), 128 layers. Each draw takes 32 random bits: the low 7 pick the
/// layer and the other 25 are a signed value, so layer and value use
/// different bits (Doornik 2005). About 98.8% of draws take the fast path:
/// one compare and one multiply.
struct Normals {
    static let r: Float = 3.442619855899
    var rng: Xoshiro256
    let k: [UInt32], w: [Float], f: [Float]

    init(seed: UInt64) {
        rng = Xoshiro256(seed: seed)
        let m = 16_777_216.0  // 2^24: |value| < 2^24
        var k = [UInt32](repeating: 0, count: 128), w = [Float](repeating: 0, count: 128), f = [Float](repeating: 0, count: 128)
        var dn = 3.442619855899, tn = dn
        let vn = 9.91256303526217e-3
        let q = vn / exp(-0.5 * dn * dn)
        k[0] = UInt32(dn / q * m); k[1] = 0
        w[0] = Float(q / m); w[127] = Float(dn / m)
        f[0] = 1; f[127] = Float(exp(-0.5 * dn * dn))
        for i in stride(from: 126, through: 1, by: -1) {
            dn = (-2 * log(vn / dn + exp(-0.5 * dn * dn))).squareRoot()
            k[i + 1] = UInt32(dn / tn * m)
            tn = dn
            f[i] = Float(exp(-0.5 * dn * dn))
            w[i] = Float(dn / m)
        }
        self.k = k; self.w = w; self.f = f
    }

    /// Two independent standard normals from one 64-bit draw.
    @inline(__always) mutating func pair() -> (Float, Float) {
        let r = rng.next()
        return (normal(UInt32(truncatingIfNeeded: r)), normal(UInt32(truncatingIfNeeded: r >> 32)))
    }

    @inline(__always) mutating func normal(_ bits: UInt32) -> Float {
        let i = Int(bits & 127)
        let hz = Int32(bitPattern: bits) >> 7          // signed, |hz| ≤ 2^24
        if hz.magnitude < k[i] { return Float(hz) * w[i] }
        return slow(hz, i)
    }

    mutating func slow(_ hz0: Int32, _ i0: Int) -> Float {
        var hz = hz0, i = i0
        while true {
            let x = Float(hz) * w[i]
            if i == 0 {   // the tail beyond r
                var xt: Float, y: Float
                repeat {
                    xt = -Foundation.log(rng.uniform()) / Self.r
                    y = -Foundation.log(rng.uniform())
                } while y + y < xt * xt
                return hz > 0 ? Self.r + xt : -Self.r - xt
            }
            if f[i] + rng.uniform() * (f[i - 1] - f[i]) < Foundation.exp(-0.5 * x * x) { return x }
            let bits = UInt32(truncatingIfNeeded: rng.next() >> 32)
            i = Int(bits & 127)
            hz = Int32(bitPattern: bits) >> 7
            if hz.magnitude < k[i] { return Float(hz) * w[i] }
        }
    }
}

/// What the latents look like at batch b.
enum Scenario: String {
    case stationary, stdStep = "std_step", meanStep = "mean_step", stdDrift = "std_drift"

    /// Multiplier of every value's deviation from its channel mean.
    func stdFactor(batch: Int, change: Int) -> Float {
        guard batch >= change else { return 1 }
        switch self {
        case .stdStep: return 1.1
        case .stdDrift: return 1 + 0.0005 * Float(batch - change + 1)
        default: return 1
        }
    }
    /// Shift of each channel's mean, in units of that channel's std.
    func meanShift(batch: Int, change: Int) -> Float {
        self == .meanStep && batch >= change ? 0.1 : 0
    }
}

/// Channel c of C has mean 0.05·(c − (C−1)/2) and std 1 + 0.04·(c − (C−1)/2);
/// each (sample, channel) also gets its own std multiplier 1 + 0.02·g and mean
/// offset 0.02·σ_c·g′ (g, g′ standard normal): images differ a little.
let perSampleStdJitter: Float = 0.02, perSampleMeanJitter: Float = 0.02

func fill(_ out: UnsafeMutablePointer<Float>, shape: [Int], scenario: Scenario, batch: Int, change: Int,
          rng: inout Normals) {
    let n = shape[0], c = shape[1], inner = shape[2...].reduce(1, *)
    let factor = scenario.stdFactor(batch: batch, change: change)
    let shift = scenario.meanShift(batch: batch, change: change)
    let mid = Float(c - 1) / 2
    for s in 0..<n {
        for ch in 0..<c {
            let (g1, g2) = rng.pair()
            let sigma = 1 + 0.04 * (Float(ch) - mid)
            let mean = 0.05 * (Float(ch) - mid) + sigma * (shift + perSampleMeanJitter * g2)
            let std = sigma * factor * (1 + perSampleStdJitter * g1)
            let p = out + (s * c + ch) * inner
            var i = 0
            while i + 1 < inner {
                let (a, b) = rng.pair()
                p[i] = mean + std * a
                p[i + 1] = mean + std * b
                i += 2
            }
            if i < inner { p[i] = mean + std * rng.pair().0 }
        }
    }
}

// MARK: - The stream, as the daemon runs it

/// Mirrors StreamState.apply + StreamState.evaluateFlags (Sources/ScaleServer)
/// line for line for the drift flags with the default config and no declared reference;
/// keep it in step with that code. Clamp and non-finite flags are not
/// simulated (clip_sample is off by default; the data is finite).
struct Stream {
    let windowBatches = 100, driftTolerance = 0.05, alertForBatches = 3, targetStd = 1.0, clipSampleRange = 1.0
    var cumulative: BatchSummary?
    var window: [BatchSummary] = []
    var windowSummary: BatchSummary?
    var recentSummary: BatchSummary?
    var frozen: (scalingFactor: Double, shiftFactor: Double)?
    var alerts: [AlertKind: AlertMachine] = [:]

    /// StreamState.normalizer: the frozen reference as an affine map.
    func normalizer(channels: Int) -> AffineNormalizer? {
        frozen.map { AffineNormalizer(channels: channels, scalingFactor: $0.scalingFactor, shiftFactor: $0.shiftFactor, range: clipSampleRange) }
    }

    /// StreamState.apply: cumulative, the window (rebuilt by merging, as
    /// rebuildWindowSummary does), and the freeze once the window first fills.
    mutating func apply(_ summary: BatchSummary) {
        // One departure from the daemon, for speed only: the quantile sketch
        // is dropped. Neither the freeze (shift mode) nor DriftTest reads it,
        // and merging 100 sketches per batch took a third of the run time.
        var summary = summary
        summary.sketch = QuantileSketch()
        if cumulative == nil { cumulative = BatchSummary(channels: summary.channels) }
        cumulative!.merge(summary)
        window.append(summary)
        if window.count > windowBatches { window.removeFirst(window.count - windowBatches) }
        var s = BatchSummary(channels: summary.channels)
        for e in window { s.merge(e) }
        windowSummary = s
        if window.count > DriftTest.recentBatches {
            var r = BatchSummary(channels: summary.channels)
            for e in window.suffix(DriftTest.recentBatches) { r.merge(e) }
            recentSummary = r
        } else {
            recentSummary = nil
        }
        if frozen == nil, window.count >= windowBatches,
           let n = try? cumulative!.normalization(mode: .shift, method: .std, targetStd: targetStd) {
            frozen = (n.scalingFactor, n.shiftFactor ?? 0)
        }
    }

    /// StreamState.evaluateFlags, variance_drift and mean_drift. Returns the
    /// transitions and the window's normalized std and mean (nil before the freeze).
    mutating func evaluateFlags(latest: BatchSummary, batch: Int) -> (transitions: [(AlertKind, String)], std: Double?, mean: Double?) {
        var events: [(AlertKind, String)] = []
        let now = Date(timeIntervalSince1970: Double(batch))
        func feed(_ kind: AlertKind, _ condition: Bool, _ value: Double?) {
            var m = alerts[kind] ?? AlertMachine()
            for t in m.evaluate(condition, forBatches: alertForBatches, now: now, message: "", value: value) {
                events.append((kind, t.state))
            }
            alerts[kind] = m
        }
        guard let window = windowSummary else { return (events, nil, nil) }
        let n = normalizer(channels: window.channels)
        var windowStd: Double?, windowMean: Double?
        if let n, let v = DriftTest.varianceVerdict(window: window, recent: recentSummary, latest: latest, normalizer: n, perChannel: false,
                                                    target: targetStd, tolerance: driftTolerance) {
            feed(.varianceDrift, v.condition, v.windowValue)
            windowStd = v.windowValue
        } else {
            feed(.varianceDrift, false, nil)
        }
        // meanTarget(): 0 for a frozen reference (it is centred by its shift).
        if let n, let v = DriftTest.meanVerdict(window: window, recent: recentSummary, latest: latest, normalizer: n, perChannel: false,
                                                baseline: 0, target: targetStd, tolerance: driftTolerance) {
            feed(.meanDrift, v.condition, v.windowValue)
            windowMean = v.windowValue
        } else {
            feed(.meanDrift, false, nil)
        }
        return (events, windowStd, windowMean)
    }
}

// MARK: - Jobs

struct Job: Sendable {
    let name: String
    let scenario: Scenario
    let shape: [Int]
    let seed: UInt64
    let batches: Int
    let change: Int
    var cost: Int { batches * shape.reduce(1, *) }
}

extension Scenario: Sendable {}

func run(_ job: Job, outDir: URL, dumpDir: URL?) throws -> String {
    let start = Date()
    let layout = try TensorLayout(shape: job.shape, dtype: .float32)
    var buffer = [Float](repeating: 0, count: layout.elementCount)
    var rng = Normals(seed: job.seed &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: job.name.utf8.reduce(5381) { $0 &* 33 &+ Int($1) }))
    var stream = Stream()
    var series = ""
    series.reserveCapacity(job.batches * 32)
    var varFire: [Int] = [], meanFire: [Int] = [], varPending = 0, meanPending = 0
    var maxStdDev = 0.0, maxMeanDev = 0.0
    var dump: FileHandle?
    if let dumpDir {
        let url = dumpDir.appendingPathComponent("\(job.name).f32")
        FileManager.default.createFile(atPath: url.path, contents: nil)
        dump = try FileHandle(forWritingTo: url)
    }
    defer { try? dump?.close() }
    for b in 0..<job.batches {
        buffer.withUnsafeMutableBufferPointer { fill($0.baseAddress!, shape: job.shape, scenario: job.scenario, batch: b, change: job.change, rng: &rng) }
        if let dump { buffer.withUnsafeBytes { dump.write(Data($0)) } }
        // The push: ingest under the normalizer in use (StreamActor.prepare), then apply and evaluate.
        let normalizer = stream.normalizer(channels: layout.channels)
        let (summary, _) = try buffer.withUnsafeBytes { try BatchSummary.ingest(bytes: $0, layout: layout, normalizer: normalizer) }
        stream.apply(summary)
        let (events, wStd, wMean) = stream.evaluateFlags(latest: summary, batch: b)
        for (kind, state) in events {
            switch (kind, state) {
            case (.varianceDrift, "firing"): varFire.append(b)
            case (.varianceDrift, "pending"): varPending += 1
            case (.meanDrift, "firing"): meanFire.append(b)
            case (.meanDrift, "pending"): meanPending += 1
            default: break
            }
        }
        if b < job.change {
            if let s = wStd { maxStdDev = max(maxStdDev, abs(s / stream.targetStd - 1)) }
            if let m = wMean { maxMeanDev = max(maxMeanDev, abs(m)) }
        }
        series += "\(summary.total.std ?? .nan) \(summary.total.mean)\n"
    }
    try series.write(to: outDir.appendingPathComponent("\(job.name).series"), atomically: true, encoding: .utf8)
    let seconds = Date().timeIntervalSince(start)
    func list(_ xs: [Int]) -> String { xs.isEmpty ? "-" : xs.map(String.init).joined(separator: ",") }
    return "job=\(job.name) scenario=\(job.scenario.rawValue) shape=\(job.shape.map(String.init).joined(separator: "x")) seed=\(job.seed) "
        + "batches=\(job.batches) change=\(job.change) seconds=\(String(format: "%.1f", seconds)) "
        + "var_fire=\(list(varFire)) mean_fire=\(list(meanFire)) var_pending=\(varPending) mean_pending=\(meanPending) "
        + String(format: "max_window_std_dev=%.5f max_window_mean_dev=%.5f", maxStdDev, maxMeanDev)
}

// MARK: - Main

final class Pool: @unchecked Sendable {
    let lock = NSLock()
    var jobs: [Job]
    var next = 0
    var failed = false
    init(_ jobs: [Job]) { self.jobs = jobs }
    func take() -> Job? {
        lock.lock(); defer { lock.unlock() }
        guard next < jobs.count, !failed else { return nil }
        next += 1
        return jobs[next - 1]
    }
    func report(_ line: String) {
        lock.lock(); defer { lock.unlock() }
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
    func fail(_ message: String) {
        lock.lock(); defer { lock.unlock() }
        failed = true
        FileHandle.standardError.write(Data("driftbench: \(message)\n".utf8))
    }
}

var args = Array(CommandLine.arguments.dropFirst())
var options: [String: Int] = ["seeds": 5, "big-seeds": 5, "stationary-batches": 10_000,
                              "small-change": 1000, "small-batches": 3000, "big-change": 300, "big-batches": 800,
                              "workers": ProcessInfo.processInfo.activeProcessorCount]
var outPath: String?, dumpPath: String?
var only: [String] = []
while let a = args.first {
    args.removeFirst()
    guard a.hasPrefix("--"), let v = args.first else {
        FileHandle.standardError.write(Data("driftbench: bad argument \(a); see the usage at the top of Sources/driftbench/main.swift\n".utf8))
        exit(2)
    }
    args.removeFirst()
    let key = String(a.dropFirst(2))
    if key == "out" { outPath = v } else if key == "dump" { dumpPath = v } else if key == "only" { only.append(v) } else if options[key] != nil, let n = Int(v), n >= 0 {
        options[key] = n
    } else {
        FileHandle.standardError.write(Data("driftbench: unknown option or bad value: \(a) \(v)\n".utf8))
        exit(2)
    }
}
guard let outPath else {
    FileHandle.standardError.write(Data("driftbench: --out DIR is required\n".utf8))
    exit(2)
}
let outDir = URL(fileURLWithPath: outPath)
try FileManager.default.createDirectory(at: outDir, withIntermediateDirectories: true)
let dumpDir = dumpPath.map { URL(fileURLWithPath: $0) }
if let dumpDir { try FileManager.default.createDirectory(at: dumpDir, withIntermediateDirectories: true) }

let small = [4, 4, 32, 32], big = [32, 4, 64, 64]
var jobs: [Job] = []
let stationaryBatches = options["stationary-batches"]!
jobs.append(Job(name: "stationary_small", scenario: .stationary, shape: small, seed: 1, batches: stationaryBatches, change: stationaryBatches))
jobs.append(Job(name: "stationary_big", scenario: .stationary, shape: big, seed: 1, batches: stationaryBatches, change: stationaryBatches))
for scenario in [Scenario.stdStep, .meanStep, .stdDrift] {
    for seed in 1...max(options["seeds"]!, 1) where options["seeds"]! > 0 {
        jobs.append(Job(name: "\(scenario.rawValue)_small_s\(seed)", scenario: scenario, shape: small, seed: UInt64(seed),
                        batches: options["small-batches"]!, change: options["small-change"]!))
    }
    for seed in 1...max(options["big-seeds"]!, 1) where options["big-seeds"]! > 0 {
        jobs.append(Job(name: "\(scenario.rawValue)_big_s\(seed)", scenario: scenario, shape: big, seed: UInt64(seed),
                        batches: options["big-batches"]!, change: options["big-change"]!))
    }
}
if !only.isEmpty { jobs = jobs.filter { j in only.contains { j.name.hasPrefix($0) } } }
jobs.sort { $0.cost > $1.cost }   // longest first, so the pool finishes together

// The generator, checked: the moments of 10^7 draws and the share beyond ±3 and ±4
// (N(0,1): mean 0, var 1, skewness 0, excess kurtosis 0, 0.0026998, 0.00006334).
do {
    var rng = Normals(seed: 42)
    var m = Moments.empty
    var beyond3 = 0, beyond4 = 0
    let n = 10_000_000
    for _ in 0..<(n / 2) {
        let (a, b) = rng.pair()
        for x in [a, b] {
            m.add(Double(x))
            if abs(x) > 3 { beyond3 += 1 }
            if abs(x) > 4 { beyond4 += 1 }
        }
    }
    FileHandle.standardOutput.write(Data((String(format: "generator draws=%d mean=%.5f var=%.5f skewness=%.4f excess_kurtosis=%.4f beyond3=%.7f beyond4=%.8f",
                 n, m.mean, m.variance ?? .nan, m.skewness ?? .nan, m.kurtosis ?? .nan,
                 Double(beyond3) / Double(n), Double(beyond4) / Double(n)) + "\n").utf8))
}

let pool = Pool(jobs)
let workers = max(1, min(options["workers"]!, jobs.count))
let started = Date()
DispatchQueue.concurrentPerform(iterations: workers) { _ in
    while let job = pool.take() {
        do { pool.report(try run(job, outDir: outDir, dumpDir: dumpDir)) } catch { pool.fail("\(job.name): \(error)") }
    }
}
if pool.failed { exit(1) }
print(String(format: "total_seconds=%.1f workers=%d", Date().timeIntervalSince(started), workers))
