import ArgumentParser
import Foundation
import NIOCore

extension ByteSize: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
    public var defaultValueDescription: String { "\(bytes)" }
}

extension ChannelRange: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}

extension Scalectl {
    struct Push: ScalectlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Push cached latents from .npy, .npz, .safetensors and .pt files (offline mode).",
            discussion: """
                Computes a VAE's statistics over a folder of cached latents. Directories are walked \
                recursively. Arrays of 3 axes are one sample (C,H,W), as kohya caches store them; \
                arrays of 4 or more axes have the sample axis first; --single-sample makes every \
                file one sample (video latents (C,T,H,W)). Trainers' layouts are understood: kohya \
                .npz (every latents_{h}x{w} bucket, tagged h x w), musubi-tuner .safetensors \
                (latents_{F}x{H}x{W}_{dtype}, one sample each), SimpleTuner torch.save .pt (read \
                without running any code from the file). Files with the same dtype, sample shape and \
                tag are sent together, up to --batch-bytes per request. Unreadable files are \
                reported and skipped (exit status 1 at the end); --strict stops at the first.
                """)

        @Argument(help: ArgumentHelp("The stream to push to (created if it does not exist).", valueName: "stream"))
        var stream: String

        @Argument(help: ArgumentHelp("Files and directories to read.", valueName: "path"))
        var paths: [String]

        @Option(help: ArgumentHelp("The one array to read in .npz, .safetensors and .pt files (default: every kohya or musubi-tuner latents array, else latents, else a single latents_* array, else the only array).", valueName: "name"))
        var key: String?

        @Flag(help: "Also push kohya's latents_flipped arrays (left out by default: they are the same images mirrored).")
        var includeFlipped = false

        @Flag(help: "Tag kohya and musubi-tuner buckets with the image size (latent size × 8) instead of the latent size.")
        var tagImageSize = false

        @Option(help: ArgumentHelp("Push only the channels A to B-1 of the channel axis, e.g. 0:4 for the mean half of an EDM2 mean‖std cache.", valueName: "A:B"))
        var channels: ChannelRange?

        @Option(help: ArgumentHelp("Undo a normalization the cache already holds, e.g. 'scaling_factor=0.3611,shift_factor=0.1159' (also latents_mean=[…], latents_std=[…]); pushes float64.", valueName: "values"))
        var applied: String?

        @Option(help: ArgumentHelp("Undo the normalization of this diffusers VAE config.json (or pipeline folder): scaling_factor, shift_factor, latents_mean, latents_std; pushes float64.", valueName: "path"))
        var appliedFrom: String?

        @Flag(help: "Treat every file as one sample, whatever its number of axes.")
        var singleSample = false

        @Flag(help: "Stop at the first file that cannot be read or is rejected.")
        var strict = false

        @Option(help: ArgumentHelp("Largest request body; accepts k, M, G suffixes.", valueName: "size"))
        var batchBytes = ByteSize("32M")!

        @Option(help: ArgumentHelp("Label every push with this tag instead of the file's bucket.", valueName: "tag"))
        var tag: String?

        @Option(help: ArgumentHelp("Channel axis of the arrays as pushed (sample axis included), overriding the stream's.", valueName: "axis"))
        var channelAxis: Int?

        @OptionGroup var connection: ConnectionOptions

        func execute(_ context: Context) async throws -> ExitStatus {
            var run = PushRun(command: self, context: context)
            return try await run.go()
        }
    }
}

/// The state of one `push`: reading files on this task while the previous
/// request is in flight, so reading and sending overlap.
struct PushRun {
    let command: Scalectl.Push
    let context: Context
    var batcher: PushBatcher
    var failed: [(path: String, reason: String)] = []
    var pushedFiles = Set<String>()
    var samples = 0
    var sentBytes = 0
    var requests = 0
    var lastResponse: JSONValue?
    var inflight: Task<Result<DaemonResponse, CLIError>, Never>?
    var inflightBatch: PushBatcher.Batch?
    var progress: ProgressBar
    /// What to undo before pushing, from --applied-from and --applied.
    var applied: AppliedNormalization?
    var toldPrescaled = false
    /// Files holding NaN/inf or outlier samples, from the push answers.
    var broken = BrokenFiles()

    init(command: Scalectl.Push, context: Context) {
        self.command = command
        self.context = context
        batcher = PushBatcher(limit: command.batchBytes.bytes)
        progress = ProgressBar(totalFiles: 0, totalBytes: 0, enabled: context.terminal.stderrIsTTY)
    }

    mutating func go() async throws -> ExitStatus {
        let started = Date()
        applied = try Self.appliedNormalization(command)
        if let applied {
            Output.err("scalectl: undoing \(applied.formula) before pushing (in float64)\n")
        }
        let (files, missing) = LatentFile.expand(command.paths)
        for path in missing {
            try fail(path, "no such file or directory")
        }
        guard !files.isEmpty else {
            throw CLIError(.noInput, "no .npy, .npz, .safetensors or .pt files in \(command.paths.joined(separator: " "))")
        }
        let sizes = files.map { path in
            ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.doubleValue ?? 0
        }
        progress.totalFiles = files.count
        progress.totalBytes = sizes.reduce(0, +)
        var readBytes = 0.0

        for (i, path) in files.enumerated() {
            do {
                let contents = try LatentFile.read(path: path, options: ReadOptions(
                    key: command.key, includeFlipped: command.includeFlipped, tagImageSize: command.tagImageSize))
                tellIfPrescaled(contents.layout)
                // Every piece is prepared before any is batched: a file is pushed whole or skipped.
                let pieces = try contents.pieces.map { piece throws(ReadError) in try prepare(piece) }
                for (array, tag) in pieces {
                    for batch in batcher.add(array, tag: command.tag ?? tag, file: path) { try await submit(batch) }
                }
            } catch let error as ReadError {
                try fail(path, error.message)
            }
            readBytes += sizes[i]
            progress.update(files: i + 1, bytes: readBytes)
        }
        for batch in batcher.flush() { try await submit(batch) }
        try await drain()
        progress.update(files: files.count, bytes: readBytes, force: true)
        progress.clear()

        let elapsed = Date().timeIntervalSince(started)
        report(files: files.count, elapsed: elapsed)
        if failed.isEmpty { return .ok }
        if pushedFiles.isEmpty {
            return failed.allSatisfy { $0.reason == "no such file or directory" } ? .noInput : .dataError
        }
        return .warning
    }

    /// The normalization to undo: --applied-from's, with --applied's fields over it.
    static func appliedNormalization(_ command: Scalectl.Push) throws(CLIError) -> AppliedNormalization? {
        var result: AppliedNormalization?
        if let path = command.appliedFrom { result = try AppliedNormalization.fromDiffusersConfig(at: path) }
        if let text = command.applied {
            let inline = try AppliedNormalization(parsing: text)
            result = result.map { $0.overridden(by: inline) } ?? inline
            try result!.validate(what: "--applied-from with --applied")
        }
        return result
    }

    /// One piece as it is pushed: sample axis first, the channels asked
    /// for, the applied normalization undone.
    func prepare(_ piece: LatentPiece) throws(ReadError) -> (LatentArray, String?) {
        var array = piece.array
        let label = piece.key.map { "'\($0)': " } ?? ""
        do {
            array.shape = try LatentArray.sampleFirstShape(array.shape, singleSample: command.singleSample || piece.isOneSample)
            let axis = command.channelAxis ?? 1
            if let range = command.channels { array = try array.selectingChannels(range, axis: axis) }
            if let applied { array = try applied.undo(array, channelAxis: axis) }
        } catch {
            throw ReadError(label + error.message)
        }
        return (array, piece.tag)
    }

    /// Says once that a cache is known to hold normalized latents, when
    /// nothing was given to undo it.
    mutating func tellIfPrescaled(_ layout: CacheLayout) {
        guard applied == nil, !toldPrescaled, let name = layout.prescaledName else { return }
        toldPrescaled = true
        progress.clear()
        Output.err("scalectl: these \(name) latents are already scaled; pass --applied-from VAE/config.json (or --applied 'scaling_factor=…,shift_factor=…') to measure the raw VAE output\n")
    }

    /// Reports a file that cannot be pushed; with --strict, stops the run.
    mutating func fail(_ path: String, _ reason: String) throws {
        failed.append((path, reason))
        progress.clear()
        if command.strict {
            throw CLIError(.dataError, "\(path): \(reason) (stopped: --strict)")
        }
        Output.err("scalectl: skipped \(path): \(reason)\n")
    }

    /// Sends `batch` once the previous request has been answered.
    mutating func submit(_ batch: PushBatcher.Batch) async throws {
        try await drain()
        let client = context.client
        let path = streamPath(command.stream, "/latents")
        let query = query(for: batch)
        let body = ByteBuffer(bytes: batch.bytes)
        inflightBatch = batch
        inflight = Task {
            await client.sendResult(.POST, path, query: query, body: body, contentType: "application/octet-stream")
        }
    }

    func query(for batch: PushBatcher.Batch) -> [(String, String)] {
        var q = [("dtype", batch.dtype.rawValue), ("shape", batch.shape.map(String.init).joined(separator: ","))]
        if let tag = batch.tag { q.append(("tag", tag)) }
        if let axis = command.channelAxis { q.append(("channel_axis", String(axis))) }
        return q
    }

    /// Waits for the request in flight and accounts for its answer.
    mutating func drain() async throws {
        guard let task = inflight, let batch = inflightBatch else { return }
        inflight = nil
        inflightBatch = nil
        try await handle(task.value, batch: batch)
    }

    mutating func handle(_ result: Result<DaemonResponse, CLIError>, batch: PushBatcher.Batch) async throws {
        let response: DaemonResponse
        switch result {
        case let .failure(error):
            progress.clear()
            throw CLIError(error.status, error.message + pushedSoFar())
        case let .success(r):
            response = r
        }
        requests += 1
        if (200..<300).contains(response.status) {
            samples += batch.samples
            sentBytes += batch.bytes.count
            pushedFiles.formUnion(batch.files)
            if context.json { printRaw(response) }
            lastResponse = try? response.json()
            if let answer = lastResponse { broken.add(answer: answer, batch: batch) }
            return
        }
        let error = DaemonClient.failure(response, what: "push to \(command.stream)")
        if response.status == 413, batch.samples > 1 {
            // The daemon takes less per request than --batch-bytes: halve and
            // remember, so later batches fit at once.
            batcher.limit = max(1, batch.bytes.count / 2)
            for half in PushBatcher.halve(batch) {
                let r = await context.client.sendResult(
                    .POST, streamPath(command.stream, "/latents"), query: query(for: half),
                    body: ByteBuffer(bytes: half.bytes), contentType: "application/octet-stream")
                try await handle(r, batch: half)
            }
            return
        }
        guard error.status == .dataError else {
            // Not about these files (a bad stream name, a daemon fault): stop.
            progress.clear()
            throw CLIError(error.status, error.message + pushedSoFar())
        }
        for file in batch.files where !failed.contains(where: { $0.path == file }) {
            try fail(file, "rejected by scaled: " + error.message.replacingOccurrences(of: "push to \(command.stream): ", with: ""))
        }
    }

    func pushedSoFar() -> String {
        pushedFiles.isEmpty ? "" : " (\(pushedFiles.count) files were pushed before this)"
    }

    func report(files: Int, elapsed: Double) {
        let rate = elapsed > 0 ? Double(sentBytes) / elapsed : 0
        let filesPerSecond = elapsed > 0 ? Double(pushedFiles.count) / elapsed : 0
        var summary = "pushed \(pushedFiles.count) of \(files) files to \(command.stream): \(samples) samples, "
            + "\(Fmt.bytes(Double(sentBytes))) in \(requests) requests, \(Fmt.duration(elapsed)) "
            + "(\(Fmt.bytes(rate))/s, \(String(format: "%.0f", filesPerSecond)) files/s)"
        if !failed.isEmpty { summary += "; \(failed.count) skipped" }
        // With --json the answers are on stdout; the summary goes to stderr.
        if context.json {
            Output.err(summary + "\n")
            Output.out(broken.json.compact + "\n")
            return
        }
        Output.out(summary + "\n")
        for line in broken.lines(limit: 10) { Output.out(line + "\n") }
        if let n = lastResponse?["normalization"], let estimate = StatusReport.estimateSummary(n, style: context.style) {
            Output.out("estimate: \(estimate); see `scalectl normalization \(command.stream)` for other modes\n")
        }
        if let totals = lastResponse?["totals"] {
            Output.out("stream \(command.stream) now holds \(totals["batches"]?.int ?? 0) batches, \(totals["samples"]?.int ?? 0) samples\n")
        }
    }
}
