import ArgumentParser
import Foundation

extension Scalectl {
    struct Status: ScalectlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show all streams, or one stream in detail.",
            discussion: """
                Without STREAM, a table of every stream: batches, samples, current scaling-factor \
                estimate, normalized std, clamp share, non-finite count, last push and firing flags. \
                With STREAM, a report of that stream. With --check, one Nagios-style line and exit \
                status 0 (nothing firing), 1 (a warning firing) or 2 (a critical alert firing).
                """)

        @Argument(help: ArgumentHelp("The stream to report on; all streams when omitted.", valueName: "stream"))
        var stream: String?

        @Flag(help: "Exit 0 when nothing fires, 1 on a warning, 2 on a critical alert; print one line.")
        var check = false

        @OptionGroup var connection: ConnectionOptions

        func execute(_ context: Context) async throws -> ExitStatus {
            if check { return try await runCheck(context) }
            if let stream {
                let (json, response) = try await context.client.expectJSON(.GET, streamPath(stream), what: "stream \(stream)")
                if context.json { printRaw(response); return .ok }
                Output.out(StatusReport.render(json, style: context.style).joined(separator: "\n") + "\n")
                return .ok
            }
            let (json, response) = try await context.client.expectJSON(.GET, "/v1/streams", what: "list streams")
            if context.json { printRaw(response); return .ok }
            let streams = (json["streams"]?.array ?? []).map(StreamSummary.init(listEntry:))
            if streams.isEmpty {
                Output.out("no streams yet: push latents with `scalectl push STREAM PATH…` or from a training loop\n")
                return .ok
            }
            let width = context.terminal.stdoutIsTTY ? Terminal.columns() : nil
            let lines = StreamSummary.table(streams, style: context.style).render(style: context.style, maxWidth: width)
            Output.out(lines.joined(separator: "\n") + "\n")
            return .ok
        }

        /// Nagios plugin semantics: only firing alerts count, the worst one
        /// decides the status.
        func runCheck(_ context: Context) async throws -> ExitStatus {
            let firing: [(stream: String, flag: StreamSummary.Flag)]
            let response: DaemonResponse
            if let stream {
                // Asking for the stream itself makes a misspelt name an error
                // rather than a silent OK.
                let (json, r) = try await context.client.expectJSON(.GET, streamPath(stream), what: "stream \(stream)")
                response = r
                firing = StreamSummary(status: json).firing.map { (stream, $0) }
            } else {
                let (json, r) = try await context.client.expectJSON(.GET, "/v1/alerts", what: "list alerts")
                response = r
                firing = (json["alerts"]?.array ?? []).compactMap { a in
                    guard a["state"]?.string == "firing" else { return nil }
                    let kind = a["kind"]?.string ?? "?"
                    return (a["stream"]?.string ?? "?",
                            StreamSummary.Flag(kind: kind, state: "firing", message: a["message"]?.string,
                                               severity: Severity(kind: kind, declared: a["severity"]?.string)))
                }
            }
            let status = CheckResult.status(firing.map(\.flag.severity))
            if context.json {
                printRaw(response)
            } else {
                Output.out(CheckResult.line(status: status, firing: firing, scope: stream) + "\n")
            }
            return status
        }
    }
}

/// The one line and the status of `status --check`.
public enum CheckResult {
    public static func status(_ severities: [Severity]) -> ExitStatus {
        guard let worst = severities.max() else { return .ok }
        return worst == .critical ? .critical : .warning
    }

    /// `SCALED WARNING - sd15 variance_drift: message; …` in the Nagios plugin format.
    public static func line(status: ExitStatus, firing: [(stream: String, flag: StreamSummary.Flag)], scope: String?) -> String {
        let word: String
        switch status {
        case .ok: word = "OK"
        case .warning: word = "WARNING"
        case .critical: word = "CRITICAL"
        default: word = "UNKNOWN"
        }
        guard !firing.isEmpty else {
            return "SCALED \(word) - no alerts firing" + (scope.map { " on \($0)" } ?? "")
        }
        let ordered = firing.sorted { $0.flag.severity > $1.flag.severity }
        let text = ordered.map { "\($0.stream) \($0.flag.kind)" + ($0.flag.message.map { ": \($0)" } ?? "") }
        return "SCALED \(word) - \(firing.count) firing: " + text.joined(separator: "; ")
    }
}
