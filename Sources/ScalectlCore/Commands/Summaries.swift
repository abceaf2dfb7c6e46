import ArgumentParser
import Foundation
import LatentStats
import NIOCore

/// The summary media type (`scaled-protocol(7)`, "SUMMARY FORMAT").
let summaryMediaType = "application/vnd.latentscale.summary"

extension Scalectl {
    struct Export: ScalectlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a stream's mergeable summary (its own data, never its peers') to a file.",
            discussion: """
                The summary is scaled's exact statistics in its versioned binary format: give it \
                to `scalectl import` on another node, or to `scalectl merge` offline.
                """)

        @Argument(help: ArgumentHelp("The stream.", valueName: "stream")) var stream: String
        @Option(name: .shortAndLong, help: ArgumentHelp("The file to write; - for standard output (not a terminal).", valueName: "file"))
        var output: String = "-"
        @Flag(help: "Export the rolling window instead of the cumulative statistics.") var window = false
        @OptionGroup var connection: ConnectionOptions

        func execute(_ context: Context) async throws -> ExitStatus {
            let response = try await context.client.send(.GET, streamPath(stream, "/summary"),
                                                         query: window ? [("scope", "window")] : [])
            guard (200..<300).contains(response.status) else {
                throw DaemonClient.failure(response, what: "summary of \(stream)")
            }
            if output == "-" {
                if context.terminal.stdoutIsTTY {
                    throw CLIError(.usage, "the summary is binary: write it to a file with -o FILE, or redirect standard output")
                }
                FileHandle.standardOutput.write(Data(response.body))
            } else {
                do { try Data(response.body).write(to: URL(fileURLWithPath: output), options: .atomic) } catch {
                    throw CLIError(.cantCreate, "cannot write \(output): \(error.localizedDescription)")
                }
                if !context.json { Output.err("wrote \(response.body.count) bytes: the \(window ? "window" : "cumulative") summary of \(stream) to \(output)\n") }
            }
            return .ok
        }
    }

    struct Import: ScalectlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set another node's summary as a peer of a stream (it replaces that peer's previous one).",
            discussion: "The stream's status and normalization with --scope global then include it.")

        @Argument(help: ArgumentHelp("The stream.", valueName: "stream")) var stream: String
        @Argument(help: ArgumentHelp("A summary written by `scalectl export`.", valueName: "file")) var file: String
        @Option(help: ArgumentHelp("The peer's name (the stream-name rule applies).", valueName: "name")) var peer: String
        @OptionGroup var connection: ConnectionOptions

        func execute(_ context: Context) async throws -> ExitStatus {
            let bytes = try SummaryFile.read(file)
            let (json, response) = try await context.client.expectJSON(
                .PUT, streamPath(stream, "/peers/\(DaemonClient.segment(peer))"), body: ByteBuffer(bytes: bytes),
                contentType: summaryMediaType, what: "peer \(peer) of \(stream)")
            if context.json { printRaw(response); return .ok }
            Output.out("\(stream): peer \(peer) set (\(json["samples"]?.int ?? 0) samples, \(Fmt.count(json["elements"]?.int)) elements)\n")
            return .ok
        }
    }

    struct Merge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the normalization of merged summaries, offline, with no daemon.",
            discussion: """
                Merges the files exactly (the same code scaled runs), in the order given, and \
                prints the normalization as `scalectl normalization` does: for a latent cache \
                pushed shard by shard on several machines.
                """)

        @Argument(help: ArgumentHelp("Summaries written by `scalectl export`.", valueName: "file")) var files: [String]
        @Option(help: "scalar, shift, channel or whiten.") var mode: Normalization.Mode = .scalar
        @Option(help: "std or rms.") var method: Normalization.Method = .std
        @Option(help: "text, json (the daemon's object), diffusers (config.json keys) or shell (export lines).")
        var format: Normalization.Format = .text
        @Option(name: .customLong("target-std"), help: "The std the normalized latents should have (the stream config's target_std).")
        var targetStd: Double = 1.0

        func validate() throws {
            guard !files.isEmpty else { throw ValidationError("give at least one summary file") }
            guard targetStd.isFinite, targetStd > 0 else { throw ValidationError("--target-std must be positive") }
        }

        func run() async throws {
            do {
                let n = try SummaryFile.normalization(of: files, mode: mode, method: method, targetStd: targetStd)
                let style = Style(enabled: Terminal(environment: ProcessInfo.processInfo.environment).color)
                switch format {
                case .json: Output.out(n.json.compact + "\n")
                case .diffusers: Output.out(n.diffusersJSON.pretty + "\n")
                case .shell: Output.out(ShellExport.lines(n.diffusersJSON).joined(separator: "\n") + "\n")
                case .text: Output.out(NormalizationText.render(n.json, stream: "merged \(files.count) summaries", style: style).joined(separator: "\n") + "\n")
                }
            } catch {
                Output.err("scalectl: \(error.message)\n")
                throw ExitCode(error.status.rawValue)
            }
        }
    }
}

/// Reading and merging summary files.
enum SummaryFile {
    static func read(_ path: String) throws(CLIError) -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else { throw CLIError(.noInput, "no such file: \(path)") }
        guard let data = FileManager.default.contents(atPath: path) else { throw CLIError(.ioError, "cannot read \(path)") }
        return [UInt8](data)
    }

    static func normalization(of paths: [String], mode: Scalectl.Normalization.Mode, method: Scalectl.Normalization.Method,
                              targetStd: Double) throws(CLIError) -> LatentStats.Normalization {
        var merged: BatchSummary?
        for path in paths {
            let s: BatchSummary
            do { s = try BatchSummary(validating: try read(path)) } catch let e as CLIError { throw e } catch {
                throw CLIError(.dataError, "\(path) is not a latentscale summary: \(error)")
            }
            if let m = merged, m.channels != s.channels {
                throw CLIError(.dataError, "\(path) has \(s.channels) channels but the files before it have \(m.channels); merge summaries of the same latents")
            }
            if merged == nil { merged = s } else { merged!.merge(s) }
        }
        do {
            return try merged!.normalization(mode: NormalizationMode(rawValue: mode.rawValue)!,
                                             method: NormalizationMethod(rawValue: method.rawValue)!, targetStd: targetStd)
        } catch {
            throw CLIError(.dataError, "cannot compute the normalization of the merged summaries: \(error.description)")
        }
    }
}

extension LatentStats.Normalization {
    /// The daemon's normalization object, from the same fields it writes.
    var json: JSONValue {
        .object(fields.map { key, value in
            switch value {
            case .text(let t): (key, .string(t))
            case .number(let d): (key, d.map { JSONValue($0) } ?? .null)
            case .numbers(let v): (key, v.map { .array($0.map { JSONValue($0) }) } ?? .null)
            case .intervals(let v): (key, v.map { .array($0.map { .array($0.map { JSONValue($0) }) }) } ?? .null)
            case .matrix(let m): (key, .array((m ?? []).map { .array($0.map { JSONValue($0) }) }))
            case .integer(let i): (key, JSONValue(i))
            case .flag(let b): (key, .bool(b))
            }
        })
    }

    /// The diffusers keys, as `format=diffusers` answers them.
    var diffusersJSON: JSONValue {
        .object(diffusersKeys.map { key, value in
            switch value {
            case .number(let d): (key, JSONValue(d))
            case .numbers(let v): (key, .array(v.map { JSONValue($0) }))
            case .matrix(let m): (key, .array(m.map { .array($0.map { JSONValue($0) }) }))
            }
        })
    }
}
