import ScaledPaths
import ArgumentParser
import Foundation
import NIOCore

/// Options every subcommand takes.
public struct ConnectionOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The socket scaled listens on (default: $SCALED_SOCKET, else $XDG_RUNTIME_DIR/scaled.sock, else /tmp/scaled-$UID/scaled.sock).",
        valueName: "path"))
    public var socket: String?

    @Flag(help: "Print the daemon's JSON answer unchanged instead of text.")
    public var json = false

    @Option(help: ArgumentHelp("Seconds to wait for each answer from scaled.", valueName: "seconds"))
    public var timeout: Double = 30

    public init() {}

    public func validate() throws {
        guard timeout > 0, timeout.isFinite else { throw ValidationError("--timeout must be a positive number of seconds") }
    }
}

/// What a subcommand runs with: the client, the terminal, the colours.
public struct Context: Sendable {
    public var client: DaemonClient
    public var terminal: Terminal
    public var style: Style
    public var environment: [String: String]
    public var json: Bool

    init(_ options: ConnectionOptions) {
        let environment = ProcessInfo.processInfo.environment
        terminal = Terminal(environment: environment)
        style = Style(enabled: terminal.color)
        self.environment = environment
        json = options.json
        client = DaemonClient(
            socketPath: SocketPath.resolve(explicit: options.socket, environment: environment),
            timeoutSeconds: options.timeout)
    }
}

/// A subcommand whose failures are one line on stderr and an exit status.
protocol ScalectlCommand: AsyncParsableCommand {
    var connection: ConnectionOptions { get }
    /// Does the work and returns the exit status; a `CLIError` is reported.
    func execute(_ context: Context) async throws -> ExitStatus
}

extension ScalectlCommand {
    public func run() async throws {
        let status: ExitStatus
        do {
            status = try await execute(Context(connection))
        } catch let error as CLIError {
            Output.err("scalectl: \(error.message)\n")
            throw ExitCode(error.status.rawValue)
        }
        if status != .ok { throw ExitCode(status.rawValue) }
    }
}

extension JSONValue {
    /// The body of a JSON request.
    var requestBody: ByteBuffer { ByteBuffer(string: compact) }
}

/// Prints a daemon answer unchanged, ending with exactly one newline.
func printRaw(_ response: DaemonResponse) {
    var text = response.text
    if !text.hasSuffix("\n") { text += "\n" }
    Output.out(text)
}

/// The path of a stream's resource.
func streamPath(_ name: String, _ suffix: String = "") -> String {
    "/v1/streams/" + DaemonClient.segment(name) + suffix
}
