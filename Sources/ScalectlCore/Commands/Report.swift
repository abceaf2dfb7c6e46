import ArgumentParser
import Foundation

extension Scalectl {
    struct Report: ScalectlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a stream's report as one self-contained HTML page with inline SVG charts.",
            discussion: """
                The page holds the stream's totals, estimate and reference, the histogram of \
                normalized latents against the scheduler's clip range, the normalized std and mean \
                per batch with alert periods, the convergence of the scaling factor, per-channel \
                statistics and correlations, buckets and outliers when the stream has them, and the \
                diffusers keys to paste. It opens offline: no script, no external style or font, no \
                network reference. --svg DIR also writes each chart as its own .svg file.
                """)

        @Argument(help: ArgumentHelp("The stream.", valueName: "stream"))
        var stream: String

        @Option(name: [.customShort("o"), .customLong("output")],
                help: ArgumentHelp("Where to write the page; - for standard output (default: STREAM-report.html).", valueName: "path"))
        var output: String?

        @Option(help: ArgumentHelp("Also write each chart as DIR/NAME.svg (the directory is created).", valueName: "dir"))
        var svg: String?

        @Option(help: ArgumentHelp("Read at most the last N history rows.", valueName: "n"))
        var limit: Int = 100_000

        @OptionGroup var connection: ConnectionOptions

        func validate() throws {
            guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
            if connection.json { throw ValidationError("report writes HTML; --json does not apply (use `scalectl status --json`)") }
        }

        func execute(_ context: Context) async throws -> ExitStatus {
            let input = try await Self.fetch(stream, limit: limit, client: context.client)
            let charts = ReportCharts.all(input)
            let page = ReportPage.render(input, charts: charts)
            let path = output ?? "\(stream)-report.html"
            if path == "-" {
                Output.out(page)
            } else {
                try Self.write(page, to: path)
                Output.err("wrote \(path) (\(charts.count) charts, \(Fmt.bytes(Double(page.utf8.count))))\n")
            }
            if let svg {
                do {
                    try FileManager.default.createDirectory(atPath: svg, withIntermediateDirectories: true)
                } catch {
                    throw CLIError(.cantCreate, "cannot create \(svg): \(error.localizedDescription)")
                }
                for c in charts { try Self.write(c.standaloneSVG, to: svg + "/" + c.id + ".svg") }
                Output.err("wrote \(charts.count) charts to \(svg)/: \(charts.map { $0.id + ".svg" }.joined(separator: ", "))\n")
            }
            return .ok
        }

        /// Everything the page needs, from the daemon.
        static func fetch(_ stream: String, limit: Int, client: DaemonClient) async throws(CLIError) -> ReportInput {
            let (status, _) = try await client.expectJSON(.GET, streamPath(stream), what: "stream \(stream)")
            let (history, _) = try await client.expectJSON(.GET, streamPath(stream, "/history"),
                                                           query: [("limit", String(limit))], what: "history of \(stream)")
            let (alerts, _) = try await client.expectJSON(.GET, "/v1/alerts", query: [("all", "true")], what: "list alerts")
            let mode = ReportInput.diffusersMode(for: status)
            // Optional parts: a stream without data answers 409 here, and the page says so.
            let diffusers = try? await client.expectJSON(.GET, streamPath(stream, "/normalization"),
                                                         query: [("mode", mode), ("format", "diffusers")], what: "normalization").json
            let channel = try? await client.expectJSON(.GET, streamPath(stream, "/normalization"),
                                                       query: [("mode", "channel")], what: "normalization").json
            let histogram = try await ReportHistogram.load(client, stream: stream, status: status)
            return ReportInput(stream: stream, generatedAt: Date(), status: status,
                               history: history["history"]?.array ?? [],
                               alerts: (alerts["alerts"]?.array ?? []).filter { $0["stream"]?.string == stream },
                               channelNormalization: channel, diffusersMode: mode, diffusers: diffusers,
                               histogram: histogram)
        }

        static func write(_ text: String, to path: String) throws(CLIError) {
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            } catch {
                throw CLIError(.cantCreate, "cannot write \(path): \(error.localizedDescription); check that its directory exists and is writable")
            }
        }
    }
}
