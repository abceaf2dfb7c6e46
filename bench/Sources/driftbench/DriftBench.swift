// driftbench: the simulator behind bench/drift.
//
// Usage: driftbench --out DIR [--seeds N] [--big-seeds N] [--stationary-batches N]
//                   [--small-change B] [--small-batches N] [--big-change B] [--big-batches N]
//                   [--workers N] [--only PREFIX]... [--dump DIR]
//
// Each job runs one stream through the daemon's own model (StreamModel's
// StreamState: apply, the automatic freeze when the window first fills, and
// evaluateFlags with its AlertMachines), fed by BatchSummary.ingest on float32
// synthetic latents, exactly as StreamActor does for a push; only the SQLite
// journal and the HTTP layer are left out. So the flags bench/drift reports
// come from the code the daemon runs. Daemon defaults: window_batches 100,
// drift_tolerance 0.05, alert_for_batches 3, target_std 1, no declared reference.
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

import ArgumentParser
import Foundation
import LatentStats

@main
struct DriftBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "driftbench",
        abstract: "Simulate streams through scaled's stream model and report when the drift flags fire.")

    @Option(help: "Folder for the per-job .series files.") var out: String
    @Option(help: "Seeds per change scenario on the small shape.") var seeds = 5
    @Option(name: .customLong("big-seeds"), help: "Seeds per change scenario on the big shape.") var bigSeeds = 5
    @Option(name: .customLong("stationary-batches"), help: "Batches of each stationary job.") var stationaryBatches = 10_000
    @Option(name: .customLong("small-change"), help: "Batch at which the small shape's data changes.") var smallChange = 1000
    @Option(name: .customLong("small-batches"), help: "Batches of each small change job.") var smallBatches = 3000
    @Option(name: .customLong("big-change"), help: "Batch at which the big shape's data changes.") var bigChange = 300
    @Option(name: .customLong("big-batches"), help: "Batches of each big change job.") var bigBatches = 800
    @Option(help: "Jobs run at once.") var workers = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Run only jobs whose name starts with this (repeatable).") var only: [String] = []
    @Option(help: "Also write every batch's raw float32 tensor to this folder.") var dump: String?

    func validate() throws {
        for (name, v) in [("seeds", seeds), ("big-seeds", bigSeeds), ("stationary-batches", stationaryBatches),
                          ("small-change", smallChange), ("small-batches", smallBatches), ("big-change", bigChange),
                          ("big-batches", bigBatches), ("workers", workers)] where v < 0 {
            throw ValidationError("--\(name) must not be negative")
        }
    }

    func run() throws {
        let outDir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: outDir, withIntermediateDirectories: true)
        let dumpDir = dump.map { URL(fileURLWithPath: $0) }
        if let dumpDir { try FileManager.default.createDirectory(at: dumpDir, withIntermediateDirectories: true) }

        let small = [4, 4, 32, 32], big = [32, 4, 64, 64]
        var jobs: [Job] = []
        jobs.append(Job(name: "stationary_small", scenario: .stationary, shape: small, seed: 1, batches: stationaryBatches, change: stationaryBatches))
        jobs.append(Job(name: "stationary_big", scenario: .stationary, shape: big, seed: 1, batches: stationaryBatches, change: stationaryBatches))
        for scenario in [Scenario.stdStep, .meanStep, .stdDrift] {
            for seed in stride(from: 1, through: seeds, by: 1) {
                jobs.append(Job(name: "\(scenario.rawValue)_small_s\(seed)", scenario: scenario, shape: small, seed: UInt64(seed),
                                batches: smallBatches, change: smallChange))
            }
            for seed in stride(from: 1, through: bigSeeds, by: 1) {
                jobs.append(Job(name: "\(scenario.rawValue)_big_s\(seed)", scenario: scenario, shape: big, seed: UInt64(seed),
                                batches: bigBatches, change: bigChange))
            }
        }
        if !only.isEmpty { jobs = jobs.filter { j in only.contains { j.name.hasPrefix($0) } } }
        jobs.sort { $0.cost > $1.cost }   // longest first, so the pool finishes together

        checkGenerator()

        let pool = Pool(jobs)
        let workers = max(1, min(self.workers, jobs.count))
        let started = Date()
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while let job = pool.take() {
                do { pool.report(try DriftBench.run(job, outDir: outDir, dumpDir: dumpDir)) } catch { pool.fail("\(job.name): \(error)") }
            }
        }
        if pool.failed { throw ExitCode.failure }
        FileHandle.standardOutput.write(Data((String(format: "total_seconds=%.1f workers=%d", Date().timeIntervalSince(started), workers) + "\n").utf8))
    }

    /// The generator, checked: the moments of 10^7 draws and the share beyond ±3 and ±4
    /// (N(0,1): mean 0, var 1, skewness 0, excess kurtosis 0, 0.0026998, 0.00006334).
    func checkGenerator() {
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
}

/// The jobs not yet started, shared by the workers; its lock guards all of its state.
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
