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

/// The daemon: restores streams, serves the API on the Unix socket until
/// SIGTERM/SIGINT, then finishes in-flight requests, snapshots every stream
/// and removes the socket.
public enum ScaleDaemon {
    public static let version = "0.1.0"

    public static func run(_ settings: DaemonSettings, logger: Logger) async throws {
        // Last, so that shutdown tells systemd STOPPING=1 before the server drains.
        let notify = SystemdNotifyService(notifier: SystemdNotifier(), watchdog: SystemdNotifier.watchdogInterval(), logger: logger)
        if let fd = try SocketActivation.inheritedSocket() {
            // Socket activation: systemd owns the socket, so nothing is bound,
            // checked or removed here; the application's services serve it.
            let db = try ScaleDatabase(path: settings.databasePath)
            let app = try await buildApplication(settings: settings, database: db, logger: logger,
                                                 umaskToRestore: nil, activatedSocket: fd)
            let group = ServiceGroup(configuration: .init(services: app.services + [notify],
                                                          gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
            logger.info("stopped")
            return
        }
        // Refuse a live socket before touching the database.
        try UnixSocketGuard.prepare(path: settings.socketPath)
        let db = try ScaleDatabase(path: settings.databasePath)
        // Bind with a private umask so the socket never exists with looser permissions.
        let previous = umask(0o177)
        let app = try await buildApplication(settings: settings, database: db, logger: logger, umaskToRestore: previous)
        defer { UnixSocketGuard.remove(path: settings.socketPath) }
        let group = ServiceGroup(configuration: .init(services: [app, notify], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
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
