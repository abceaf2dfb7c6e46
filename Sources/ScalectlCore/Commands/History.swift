import ArgumentParser
import Foundation

extension Scalectl {
    struct History: ScalectlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a stream's per-batch history: a chart, CSV, or JSON.",
            discussion: """
                By default an 80-column chart of the normalized std against its tolerance band and \
                of the clamp share against its limit, over the training steps (batch numbers when \
                pushes carry no step), with the periods when alerts fired marked underneath.
                """)

        @Argument(help: ArgumentHelp("The stream.", valueName: "stream"))
        var stream: String

        @Flag(help: "Print the history as CSV with a header row.")
        var csv = false

        @Option(help: ArgumentHelp("Show the last N batches.", valueName: "n"))
        var limit: Int = 1000

        @Option(help: ArgumentHelp("Chart width in columns.", valueName: "columns"))
        var width: Int = 80

        @Option(help: ArgumentHelp("Only the batches pushed with this tag (a bucket; '(other)' for the tags without one).", valueName: "tag"))
        var tag: String?

        @OptionGroup var connection: ConnectionOptions

        func validate() throws {
            guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
            guard width >= 40 else { throw ValidationError("--width must be at least 40 columns") }
            if csv && connection.json { throw ValidationError("choose one of --csv and --json") }
        }

        func execute(_ context: Context) async throws -> ExitStatus {
            let (json, response) = try await context.client.expectJSON(
                .GET, streamPath(stream, "/history"), query: [("limit", String(limit))] + (tag.map { [("tag", $0)] } ?? []), what: "history of \(stream)")
            if context.json { printRaw(response); return .ok }
            let entries = json["history"]?.array ?? []
            if csv {
                Output.out(HistoryCSV.render(entries))
                return .ok
            }
            guard !entries.isEmpty else {
                Output.out("no batches in \(stream) yet\n")
                return .ok
            }
            // The band, the limit and the firing periods come from the status and the alerts.
            let (status, _) = try await context.client.expectJSON(.GET, streamPath(stream), what: "stream \(stream)")
            let (alerts, _) = try await context.client.expectJSON(.GET, "/v1/alerts", query: [("all", "true")], what: "list alerts")
            var chart = HistoryChart(points: entries.map(HistoryPoint.init))
            chart.width = width
            let config = status["config"]
            chart.targetStd = config?["target_std"]?.double ?? 1
            chart.driftTolerance = config?["drift_tolerance"]?.double ?? 0.05
            chart.clampLimit = config?["clamp_max_fraction"]?.double
            chart.periods = (alerts["alerts"]?.array ?? []).compactMap { a in
                guard a["stream"]?.string == stream, a["state"]?.string != "pending",
                      let since = a["since"]?.string.flatMap(Fmt.parseTimestamp) else { return nil }
                return FiringPeriod(kind: a["kind"]?.string ?? "?", start: since,
                                    end: a["resolved_at"]?.string.flatMap(Fmt.parseTimestamp))
            }
            Output.out(context.style.bold("\(stream): last \(entries.count) batches") + "\n")
            Output.out(chart.render(style: context.style).joined(separator: "\n") + "\n")
            return .ok
        }
    }
}

/// `history --csv`: one row per batch, numbers as the daemon wrote them,
/// empty cells for null.
public enum HistoryCSV {
    public static let columns = ["seq", "step", "tag", "time", "samples", "mean", "std", "normalized_std", "clamp_fraction", "nonfinite"]

    public static func render(_ entries: [JSONValue]) -> String {
        var out = columns.joined(separator: ",") + "\n"
        for e in entries {
            out += columns.map { key -> String in
                guard let v = e[key] else { return "" }
                switch v {
                case .null: return ""
                case let .string(s): return field(s)
                default: return field(v.compact)
                }
            }.joined(separator: ",") + "\n"
        }
        return out
    }

    /// RFC 4180 quoting (with Unix line ends, which every CSV reader accepts).
    static func field(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
