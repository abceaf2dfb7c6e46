import ArgumentParser
import Foundation
import Logging
import ScaleServer

/// `scaled`: the latentscale daemon. Options override `SCALED_*` environment
/// variables, which override the embedded defaults.
@main
struct Scaled: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scaled",
        abstract: "Keep exact running statistics of VAE latents pushed by training loops, and serve the normalization to use.",
        discussion: """
        Serves HTTP/1.1 on a Unix socket (see scaled-protocol(7)) and persists every \
        acknowledged push to SQLite before answering. SIGTERM or SIGINT stop it gracefully.

        Environment: SCALED_SOCKET, SCALED_DB, SCALED_SOCKET_MODE, SCALED_MAX_BODY_BYTES, \
        SCALED_LOG_LEVEL, SCALED_METRICS_ADDRESS, SCALED_ALERT_COMMAND, SCALED_ALLOW_UID, \
        SCALED_ALLOW_GID; NOTIFY_SOCKET and WATCHDOG_USEC (systemd); XDG_RUNTIME_DIR and \
        XDG_STATE_HOME choose the default paths.
        """,
        version: ScaleDaemon.version
    )

    @Option(help: ArgumentHelp("Unix socket to serve on (env SCALED_SOCKET; default $XDG_RUNTIME_DIR/scaled.sock, else /tmp/scaled-$UID/scaled.sock).", valueName: "path"))
    var socket: String?

    @Option(help: ArgumentHelp("SQLite database file (env SCALED_DB; default $XDG_STATE_HOME/scaled/scaled.db, else ~/.local/state/scaled/scaled.db).", valueName: "path"))
    var db: String?

    @Option(name: .customLong("socket-mode"), help: ArgumentHelp("Permissions of the socket file, in octal (env SCALED_SOCKET_MODE; default 0600).", valueName: "mode"))
    var socketMode: String?

    @Option(name: .customLong("max-body-bytes"), help: ArgumentHelp("Largest push body accepted; larger ones get 413 (env SCALED_MAX_BODY_BYTES; default 2147483648).", valueName: "bytes"))
    var maxBodyBytes: Int?

    @Option(name: .customLong("log-level"), help: ArgumentHelp("trace, debug, info, notice, warning, error or critical (env SCALED_LOG_LEVEL; default info).", valueName: "level"))
    var logLevel: String?

    @Option(name: .customLong("metrics-address"), help: ArgumentHelp("Also serve GET /metrics and GET /v1/health (only those) over TCP at HOST:PORT, for Prometheus (env SCALED_METRICS_ADDRESS).", valueName: "host:port"))
    var metricsAddress: String?

    @Option(name: .customLong("alert-command"), help: ArgumentHelp("Shell command run for every alert transition, with the alert as JSON on stdin; it never blocks pushes, and its failures are logged (env SCALED_ALERT_COMMAND).", valueName: "command"))
    var alertCommand: String?

    @Option(name: .customLong("allow-uid"), help: ArgumentHelp("Comma-separated uids that may connect besides scaled's own and root's; others get 403 (env SCALED_ALLOW_UID).", valueName: "uids"))
    var allowUID: String?

    @Option(name: .customLong("allow-gid"), help: ArgumentHelp("Comma-separated gids whose processes may connect (env SCALED_ALLOW_GID).", valueName: "gids"))
    var allowGID: String?

    func run() async throws {
        let settings: DaemonSettings
        do {
            settings = try DaemonSettings(options: DaemonOptions(
                socket: socket, db: db, socketMode: socketMode, maxBodyBytes: maxBodyBytes, logLevel: logLevel,
                metricsAddress: metricsAddress, alertCommand: alertCommand, allowUID: allowUID, allowGID: allowGID))
        } catch { throw ValidationError(error.description) }
        let level = settings.logLevel
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        var logger = Logger(label: "scaled")
        logger.logLevel = level
        do {
            try await ScaleDaemon.run(settings, logger: logger)
        } catch let e as UnixSocketGuard.Failure {
            logger.critical("\(e.description)")
            throw ExitCode(3)
        } catch {
            logger.critical("scaled stopped: \(error)")
            throw ExitCode(1)
        }
    }
}
