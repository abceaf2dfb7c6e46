import ArgumentParser

/// The `scalectl` command: one nested type per subcommand.
public struct Scalectl: AsyncParsableCommand {
    public static let version = "0.1.0"

    public static let configuration = CommandConfiguration(
        commandName: "scalectl",
        abstract: "Inspect and steer scaled, the latent statistics daemon.",
        discussion: """
            scalectl talks HTTP to scaled over its Unix socket. Every subcommand takes \
            --socket (default $SCALED_SOCKET, else $XDG_RUNTIME_DIR/scaled.sock, else \
            /tmp/scaled-$UID/scaled.sock), --timeout and --json (print the daemon's answer \
            unchanged), before or after the subcommand's name.

            Exit status: 0 ok, 1 warning or some files failed, 2 critical, 64 usage, \
            65 bad data, 66 no such stream or file, 69 daemon unavailable, 70 daemon error, \
            73 cannot write, 74 I/O error, 75 timeout, 76 protocol error. See scalectl(1).
            """,
        version: version,
        subcommands: [
            Status.self, Normalization.self, Watch.self, Alerts.self, History.self, Report.self,
            Push.self, Config.self, Freeze.self, Reset.self, Delete.self, Export.self, Import.self, Merge.self,
        ]
    )

    public init() {}
}

extension Scalectl {
    /// Parses the command line and runs the subcommand. (Called from
    /// `main.swift`; top-level code there resolves `main()` to the
    /// synchronous overload, which refuses async commands.)
    public static func start() async {
        do {
            var command = try parseAsRoot(GlobalOptions.reorder(Array(CommandLine.arguments.dropFirst())))
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
