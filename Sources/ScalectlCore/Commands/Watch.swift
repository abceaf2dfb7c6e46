import ArgumentParser
import Dispatch
import Foundation

extension Scalectl {
    struct Watch: ScalectlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Refresh the status until interrupted.",
            discussion: """
                On a terminal the status table (or the STREAM report) is redrawn in place every \
                --interval seconds until Ctrl-C. Otherwise one plain line per stream is printed at \
                every refresh (with --json, the daemon's answer, one per line). While scaled is \
                unreachable the error is shown and watch keeps trying.
                """)

        @Argument(help: ArgumentHelp("Watch this stream's full report; all streams when omitted.", valueName: "stream"))
        var stream: String?

        @Option(help: ArgumentHelp("Seconds between refreshes.", valueName: "seconds"))
        var interval: Double = 2

        @Option(help: ArgumentHelp("Stop after this many refreshes (default: until interrupted).", valueName: "n"))
        var count: Int?

        @OptionGroup var connection: ConnectionOptions

        func validate() throws {
            guard interval > 0, interval.isFinite else { throw ValidationError("--interval must be a positive number of seconds") }
            if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        }

        func execute(_ context: Context) async throws -> ExitStatus {
            let inPlace = context.terminal.stdoutIsTTY && !context.json
            let interrupt = InterruptHandler(restoreCursor: inPlace)
            // Hide the cursor and start from a clear screen, as watch(1) does.
            if inPlace { Output.out("\u{1B}[?25l\u{1B}[H\u{1B}[2J") }
            defer { if inPlace { Output.out("\u{1B}[?25h") } }
            var refreshes = 0
            while true {
                let now = Date()
                do {
                    if context.json {
                        printRaw(try await fetchRaw(context))
                    } else if inPlace {
                        try await drawFrame(context, now: now)
                    } else {
                        for line in try await plainLines(context) {
                            Output.out(Fmt.timestamp(now) + " " + line + "\n")
                        }
                    }
                } catch let error as CLIError where error.status == .unavailable || error.status == .tempFail {
                    // The daemon may be restarting: say so and keep watching.
                    if inPlace {
                        Output.out("\u{1B}[H" + header(now) + "\u{1B}[K\n" + context.style.red(error.message) + "\u{1B}[K\n\u{1B}[J")
                    } else {
                        Output.err("scalectl: \(error.message)\n")
                    }
                }
                refreshes += 1
                if let count, refreshes >= count { break }
                try? await Task.sleep(nanoseconds: UInt64(interval * 1e9))
            }
            withExtendedLifetime(interrupt) {}
            return .ok
        }

        func header(_ now: Date) -> String {
            let what = stream.map { "stream \($0)" } ?? "all streams"
            return "scalectl watch: \(what), every \(Fmt.sig(interval, 3))s, \(Fmt.timestamp(now))  (Ctrl-C to stop)"
        }

        func fetchRaw(_ context: Context) async throws -> DaemonResponse {
            if let stream {
                return try await context.client.expectJSON(.GET, streamPath(stream), what: "stream \(stream)").response
            }
            return try await context.client.expectJSON(.GET, "/v1/streams", what: "list streams").response
        }

        func plainLines(_ context: Context) async throws -> [String] {
            let json = try await fetchRaw(context).json()
            if stream != nil { return [StreamSummary(status: json).line()] }
            let streams = (json["streams"]?.array ?? []).map(StreamSummary.init(listEntry:))
            return streams.isEmpty ? ["no streams"] : streams.map { $0.line() }
        }

        func drawFrame(_ context: Context, now: Date) async throws {
            let json = try await fetchRaw(context).json()
            var lines: [String]
            if stream != nil {
                lines = StatusReport.render(json, style: context.style, now: now)
            } else {
                let streams = (json["streams"]?.array ?? []).map(StreamSummary.init(listEntry:))
                lines = streams.isEmpty ? ["no streams yet"]
                    : StreamSummary.table(streams, style: context.style).render(style: context.style)
            }
            let width = Terminal.columns() ?? 80
            let frame = ([context.style.dim(header(now)), ""] + lines).map { truncateVisible($0, to: width) + "\u{1B}[K" }
            // Home, overwrite, clear what the previous frame left below: no flicker.
            Output.out("\u{1B}[H" + frame.joined(separator: "\n") + "\n\u{1B}[J")
        }
    }
}

/// Ends `watch` on Ctrl-C or SIGTERM with status 0, putting the cursor back.
final class InterruptHandler {
    private let sources: [any DispatchSourceSignal]

    init(restoreCursor: Bool) {
        sources = [SIGINT, SIGTERM].map { signo in
            signal(signo, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signo, queue: .global())
            source.setEventHandler {
                Output.out(restoreCursor ? "\u{1B}[?25h\n" : "")
                exit(0)
            }
            source.resume()
            return source
        }
    }
}
