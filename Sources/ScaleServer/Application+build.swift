#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Hummingbird
import HummingbirdCore
import LatentStats
import Logging
import ScaleStore
import ServiceLifecycle

extension ScaleDaemon {
    /// The application `scaled` serves on its Unix socket: the stored streams
    /// restored from `database`, the API router, and as services the TCP
    /// metrics listener (when `settings.metricsAddress` is set) and the
    /// snapshot of every stream at shutdown.
    ///
    /// Graceful shutdown runs in reverse order: the socket server drains
    /// first, then the metrics listener, then every stream is snapshotted.
    ///
    /// - Parameter umaskToRestore: the process umask to put back once the
    ///   socket is bound (``run(_:logger:)`` binds under a private umask).
    /// - Throws: `StreamPersistence.Damaged` when a stored value does not parse.
    public static func buildApplication(settings: DaemonSettings, database db: ScaleDatabase, logger: Logger,
                                        umaskToRestore: mode_t? = nil) async throws -> some ApplicationProtocol {
        try await buildApplication(settings: settings, database: db, logger: logger, umaskToRestore: umaskToRestore, activatedSocket: nil)
    }

    /// As ``buildApplication(settings:database:logger:umaskToRestore:)``; with
    /// `activatedSocket`, the API is served on that inherited socket instead,
    /// and the returned application is run without its own server (``run(_:logger:)``).
    static func buildApplication(settings: DaemonSettings, database db: ScaleDatabase, logger: Logger,
                                 umaskToRestore: mode_t?, activatedSocket: CInt?) async throws -> Application<RouterResponder<BasicRequestContext>> {
        let metrics = ScaleMetrics()
        let registry = StreamRegistry(db: db, logger: logger, metrics: metrics, alertCommand: settings.alertCommand)
        try await registry.load()
        logger.info("database ready", metadata: ["path": "\(db.path ?? ":memory:")"])
        logger.info("ingest kernel", metadata: ["loops": "\(BatchSummary.ingestKernel)"])

        let router = buildRouter(APIRoutes(registry: registry, metrics: metrics, maxBodyBytes: settings.maxBodyBytes, version: version))

        var services: [any Service] = [SnapshotOnShutdown(registry: registry, logger: logger)]
        if let address = settings.metricsAddress {
            let metricsRouter = Router()
            metricsRouter.middlewares.add(ErrorMiddleware(routes: RouteTable(metricsRouter: true), onlyMetrics: true))
            APIRoutes.registerMetrics(on: metricsRouter, metrics: metrics, version: version)
            services.append(Application(router: metricsRouter,
                                        configuration: .init(address: .hostname(address.host, port: address.port), serverName: "scaled"),
                                        onServerRunning: { _ in logger.info("metrics listening", metadata: ["address": "\(address.host):\(address.port)"]) },
                                        logger: logger))
        }

        let socketPath = settings.socketPath
        let mode = settings.socketMode
        let notifier = SystemdNotifier()
        let channel = httpChannelConfiguration(settings, logger: logger)
        if let fd = activatedSocket {
            // systemd's socket: the same router and handlers, served on the inherited fd.
            services.append(ActivatedSocketServer(
                socket: fd, responder: router.buildResponder(), channelConfiguration: channel, serverName: "scaled",
                onServerRunning: {
                    if notifier.send("READY=1\nSTATUS=serving the socket systemd passed") { logger.debug("told systemd: READY=1") }
                }, logger: logger))
        }
        return Application(
            router: router,
            server: .http1(configuration: channel),
            configuration: .init(address: .unixDomainSocket(path: socketPath), serverName: "scaled"),
            services: services,
            onServerRunning: { _ in
                chmod(socketPath, mode_t(mode))
                if let umaskToRestore { umask(umaskToRestore) }
                logger.info("listening", metadata: ["socket": "\(socketPath)", "mode": "\(String(mode, radix: 8))"])
                // The database is restored and the socket served: ready.
                if notifier.send("READY=1\nSTATUS=serving \(socketPath)") { logger.debug("told systemd: READY=1") }
            },
            logger: logger
        )
    }

    /// The handlers every connection gets, on a bound or an inherited socket.
    static func httpChannelConfiguration(_ settings: DaemonSettings, logger: Logger) -> HTTP1Channel.Configuration {
        let policy = settings.peers
        let maxBody = settings.maxBodyBytes
        return .init(additionalChannelHandlers: [
            ReceiveBufferHandler(), ParserErrorResponder(),
            PeerCredentialsHandler(policy: policy, logger: logger), ExpectContinueHandler(maxBodyBytes: maxBody),
            BodyCoalescingHandler(maxBodyBytes: maxBody),
        ])
    }

    /// The API router, with the error middleware whose 404/405 table comes
    /// from the routes as `routes` registers them.
    static func buildRouter(_ routes: APIRoutes) -> Router<BasicRequestContext> {
        let probe = Router()
        routes.register(on: probe)
        let router = Router()
        router.middlewares.add(ErrorMiddleware(routes: RouteTable(probe.routes.map { ($0.path.description, $0.method) })))
        routes.register(on: router)
        return router
    }
}
