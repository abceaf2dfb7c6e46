import ArgumentParser
import Foundation

extension Scalectl {
    struct Freeze: ScalectlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make the stream's current estimate its reference normalization.")

        @Argument(help: ArgumentHelp("The stream.", valueName: "stream"))
        var stream: String

        @OptionGroup var connection: ConnectionOptions

        func execute(_ context: Context) async throws -> ExitStatus {
            let (json, response) = try await context.client.expectJSON(.POST, streamPath(stream, "/freeze"), what: "freeze \(stream)")
            if context.json { printRaw(response); return .ok }
            Output.out("froze \(stream)'s estimate as its reference\n" + StatusReport.referenceLine(json["reference"]) + "\n")
            return .ok
        }
    }

    struct Reset: ScalectlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Clear a stream's statistics and alerts, keeping its config.")

        @Argument(help: ArgumentHelp("The stream.", valueName: "stream"))
        var stream: String

        @OptionGroup var connection: ConnectionOptions

        func execute(_ context: Context) async throws -> ExitStatus {
            let (_, response) = try await context.client.expectJSON(.POST, streamPath(stream, "/reset"), what: "reset \(stream)")
            if context.json { printRaw(response); return .ok }
            Output.out("reset \(stream): statistics and alerts cleared, config kept\n")
            return .ok
        }
    }

    struct Delete: ScalectlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a stream and all its data.",
            discussion: "On a terminal, asks for confirmation unless --yes is given.")

        @Argument(help: ArgumentHelp("The stream.", valueName: "stream"))
        var stream: String

        @Flag(name: [.short, .long], help: "Do not ask for confirmation.")
        var yes = false

        @OptionGroup var connection: ConnectionOptions

        func execute(_ context: Context) async throws -> ExitStatus {
            if !yes && context.terminal.stdinIsTTY {
                Output.err("delete stream \(stream) and all its statistics, history and alerts? [y/N] ")
                let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
                guard answer == "y" || answer == "yes" else {
                    Output.err("scalectl: not deleted\n")
                    return .warning
                }
            }
            let (_, response) = try await context.client.expectJSON(.DELETE, streamPath(stream), what: "delete \(stream)")
            if context.json { printRaw(response); return .ok }
            Output.out("deleted \(stream)\n")
            return .ok
        }
    }
}
