import ArgumentParser
import Foundation

extension Scalectl {
    struct Alerts: ScalectlCommand {
        static let configuration = CommandConfiguration(
            abstract: "List active alerts (pending and firing), or recent resolved ones too with --all.")

        @Flag(help: "Include recently resolved alerts.")
        var all = false

        @OptionGroup var connection: ConnectionOptions

        func execute(_ context: Context) async throws -> ExitStatus {
            let (json, response) = try await context.client.expectJSON(
                .GET, "/v1/alerts", query: all ? [("all", "true")] : [], what: "list alerts")
            if context.json { printRaw(response); return .ok }
            let alerts = json["alerts"]?.array ?? []
            if alerts.isEmpty {
                Output.out(all ? "no alerts\n" : "no active alerts\n")
                return .ok
            }
            let width = context.terminal.stdoutIsTTY ? Terminal.columns() : nil
            Output.out(AlertTable.render(alerts, style: context.style, maxWidth: width).joined(separator: "\n") + "\n")
            return .ok
        }
    }
}

enum AlertTable {
    static func render(_ alerts: [JSONValue], style: Style, now: Date = Date(), maxWidth: Int? = nil) -> [String] {
        var table = Table([("STREAM", .left), ("KIND", .left), ("STATE", .left), ("SEVERITY", .left),
                           ("SINCE", .right), ("RESOLVED", .right), ("MESSAGE", .left)])
        for a in alerts {
            let kind = a["kind"]?.string ?? "?"
            let state = a["state"]?.string ?? "?"
            let severity = Severity(kind: kind, declared: a["severity"]?.string)
            let flag = StreamSummary.Flag(kind: kind, state: state, message: nil, severity: severity)
            let stateText: String
            switch state {
            case "firing": stateText = severity == .critical ? style.red(state) : style.yellow(state)
            case "resolved": stateText = style.dim(state)
            default: stateText = state
            }
            table.add([
                a["stream"]?.string ?? "?", state == "firing" ? style.flag(flag) : kind, stateText,
                severity.rawValue, Fmt.age(a["since"]?.string, now: now) + " ago",
                a["resolved_at"]?.string.map { Fmt.age($0, now: now) + " ago" } ?? "-",
                a["message"]?.string ?? "",
            ])
        }
        return table.render(style: style, maxWidth: maxWidth)
    }
}
