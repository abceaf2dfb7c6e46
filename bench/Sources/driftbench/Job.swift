import Foundation
import LatentStats
import StreamModel

struct Job: Sendable {
    let name: String
    let scenario: Scenario
    let shape: [Int]
    let seed: UInt64
    let batches: Int
    let change: Int
    var cost: Int { batches * shape.reduce(1, *) }
}


extension DriftBench {
    static func run(_ job: Job, outDir: URL, dumpDir: URL?) throws -> String {
    let start = Date()
    let layout = try TensorLayout(shape: job.shape, dtype: .float32)
    var buffer = [Float](repeating: 0, count: layout.elementCount)
    var rng = Normals(seed: job.seed &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: job.name.utf8.reduce(5381) { $0 &* 33 &+ Int($1) }))
    // The daemon's own model, with its defaults: window_batches 100,
    // drift_tolerance 0.05, alert_for_batches 3, target_std 1, no declared
    // reference (the estimate is frozen when the window first fills).
    var stream = StreamState(name: job.name, now: Date(timeIntervalSince1970: 0))
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
        // The push as StreamActor runs it: ingest under the normalizer in use
        // (prepare), then apply and evaluate the flags.
        let normalizer = stream.normalizer(channels: layout.channels)
        let (summary, clamp) = try buffer.withUnsafeBytes { try BatchSummary.ingest(bytes: $0, layout: layout, normalizer: normalizer) }
        let now = Date(timeIntervalSince1970: Double(b))
        stream.apply(WindowEntry(summary: summary, clamp: clamp, referenceVersion: stream.referenceVersion), seq: Int64(b + 1), now: now)
        for e in stream.evaluateFlags(latest: summary, now: now) {
            switch (e.kind, e.transition.state) {
            case (.varianceDrift, .firing): varFire.append(b)
            case (.varianceDrift, .pending): varPending += 1
            case (.meanDrift, .firing): meanFire.append(b)
            case (.meanDrift, .pending): meanPending += 1
            default: break
            }
        }
        if b < job.change, stream.reference != nil, let w = stream.windowSummary, let n = stream.normalizedMoments(w) {
            maxStdDev = max(maxStdDev, abs(n.std / stream.config.targetStd - 1))
            maxMeanDev = max(maxMeanDev, abs(n.mean - (stream.meanTarget() ?? 0)))
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
}
