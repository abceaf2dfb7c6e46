#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Hummingbird
import Logging
import ScaleStore
import ServiceLifecycle

/// What `scaled` runs with; the executable fills it from options and environment.
public struct DaemonSettings: Sendable {
    public var socketPath: String
    public var databasePath: String
    public var socketMode: UInt16 = 0o600
    public var maxBodyBytes: Int = 2 << 30
    public var logLevel: Logger.Level = .info
    /// `HOST:PORT` to also serve `GET /metrics` and `GET /v1/health` on, over TCP.
    public var metricsAddress: (host: String, port: Int)?
    /// Run for every alert transition with the alert as JSON on stdin.
    public var alertCommand: String?

    public init(socketPath: String, databasePath: String) {
        self.socketPath = socketPath; self.databasePath = databasePath
    }

    /// `$SCALED_SOCKET`, else `$XDG_RUNTIME_DIR/scaled.sock`, else `/tmp/scaled-$UID/scaled.sock`.
    public static func defaultSocketPath(environment env: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let s = env["SCALED_SOCKET"], !s.isEmpty { return s }
        if let r = env["XDG_RUNTIME_DIR"], !r.isEmpty { return r + "/scaled.sock" }
        return "/tmp/scaled-\(getuid())/scaled.sock"
    }

    /// `$SCALED_DB`, else `$XDG_STATE_HOME/scaled/scaled.db`, else `~/.local/state/scaled/scaled.db`.
    public static func defaultDatabasePath(environment env: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let s = env["SCALED_DB"], !s.isEmpty { return s }
        if let x = env["XDG_STATE_HOME"], !x.isEmpty { return x + "/scaled/scaled.db" }
        let home = env["HOME"] ?? NSHomeDirectory()
        return home + "/.local/state/scaled/scaled.db"
    }
}

/// The daemon: restores streams, serves the API on the Unix socket until
/// SIGTERM/SIGINT, then finishes in-flight requests, snapshots every stream
/// and removes the socket.
public enum ScaleDaemon {
    public static let version = "0.1.0"

    public static func run(_ settings: DaemonSettings, logger: Logger) async throws {
        // Refuse a live socket before touching the database.
        try UnixSocketGuard.prepare(path: settings.socketPath)
        let db = try ScaleDatabase(path: settings.databasePath)
        let metrics = ScaleMetrics()
        let registry = StreamRegistry(db: db, logger: logger, metrics: metrics, alertCommand: settings.alertCommand)
        try await registry.load()
        logger.info("database ready", metadata: ["path": "\(settings.databasePath)"])

        let router = Router()
        router.middlewares.add(ErrorMiddleware())
        APIRoutes(registry: registry, metrics: metrics, maxBodyBytes: settings.maxBodyBytes, version: version).register(on: router)

        // Bind with a private umask so the socket never exists with looser permissions.
        let previous = umask(0o177)
        let socketPath = settings.socketPath
        let mode = settings.socketMode
        let app = Application(
            router: router,
            configuration: .init(address: .unixDomainSocket(path: socketPath), serverName: "scaled"),
            onServerRunning: { _ in
                chmod(socketPath, mode_t(mode))
                umask(previous)
                logger.info("listening", metadata: ["socket": "\(socketPath)", "mode": "\(String(mode, radix: 8))"])
            },
            logger: logger
        )
        // Graceful shutdown runs in reverse order: the socket server drains first,
        // then the metrics listener, then every stream is snapshotted.
        var services: [any Service] = [SnapshotOnShutdown(registry: registry, logger: logger)]
        if let address = settings.metricsAddress {
            let metricsRouter = Router()
            metricsRouter.middlewares.add(ErrorMiddleware(onlyMetrics: true))
            APIRoutes.registerMetrics(on: metricsRouter, metrics: metrics, version: version)
            services.append(Application(router: metricsRouter,
                                        configuration: .init(address: .hostname(address.host, port: address.port), serverName: "scaled"),
                                        onServerRunning: { _ in logger.info("metrics listening", metadata: ["address": "\(address.host):\(address.port)"]) },
                                        logger: logger))
        }
        services.append(app)
        defer { UnixSocketGuard.remove(path: socketPath) }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.info("stopped")
    }
}

/// Snapshots every stream once the server has stopped accepting and drained.
struct SnapshotOnShutdown: Service {
    let registry: StreamRegistry
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        await registry.snapshotAll()
        logger.info("snapshots written")
    }
}
