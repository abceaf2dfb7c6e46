#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOExtras
import NIOPosix
import ServiceLifecycle

/// systemd socket activation (`sd_listen_fds(3)`): the listening socket that
/// `LISTEN_FDS`/`LISTEN_PID` hand to this process, fd 3.
public enum SocketActivation {
    /// The inherited socket, or nil when none was passed to this process.
    /// - Throws: when more than one socket is passed (scaled serves one).
    public static func inheritedSocket(environment env: [String: String] = ProcessInfo.processInfo.environment) throws -> CInt? {
        guard let fds = env["LISTEN_FDS"].flatMap(Int.init), fds > 0 else { return nil }
        if let pid = env["LISTEN_PID"].flatMap(Int32.init), pid != getpid() { return nil }
        guard fds == 1 else {
            throw DaemonSettings.Invalid(description: "systemd passed \(fds) sockets (LISTEN_FDS); scaled serves one: give its .socket unit a single ListenStream=")
        }
        return 3   // SD_LISTEN_FDS_START
    }

    /// The Unix path the inherited socket is bound to, for logs.
    static func path(of fd: CInt) -> String? {
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard ok == 0, address.sun_family == sa_family_t(AF_UNIX) else { return nil }
        return withUnsafeBytes(of: address.sun_path) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }
}

/// Serves the API on an inherited, already listening socket with the same
/// router and HTTP/1 channel handlers as the bound one (Hummingbird binds
/// only by address, so this is NIO's `ServerBootstrap.bind(_:)` with
/// Hummingbird's `HTTP1Channel`). On graceful shutdown it stops accepting,
/// lets open connections finish their request, and leaves the socket file
/// alone: systemd owns it.
struct ActivatedSocketServer<Responder: HTTPResponder>: Service where Responder.Context == BasicRequestContext {
    let socket: CInt
    let responder: Responder
    let channelConfiguration: HTTP1Channel.Configuration
    let serverName: String
    let onServerRunning: @Sendable () async -> Void
    let logger: Logger

    func run() async throws {
        let responder = self.responder, serverName = self.serverName, logger = self.logger
        let child = HTTP1Channel(responder: { request, writer, channel in
            let context = BasicRequestContext(source: .init(channel: channel, logger: logger))
            var response: Response
            do {
                response = try await responder.respond(to: request, context: context)
            } catch let error as any HTTPResponseError {
                response = try error.response(from: request, context: context)
            } catch {
                logger.error("request failed", metadata: ["error": "\(error)"])
                response = Response(status: .internalServerError)
            }
            response.headers[.server] = serverName
            try await writer.write(response: response.head, body: response.body)
        }, configuration: channelConfiguration)

        let group = MultiThreadedEventLoopGroup.singleton
        let quiescing = ServerQuiescingHelper(group: group)
        let server = try await ServerBootstrap(group: group)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            .bind(socket) { channel in child.setup(channel: channel, logger: logger) }
        logger.info("listening on the socket systemd passed", metadata: ["fd": "\(socket)", "socket": "\(SocketActivation.path(of: socket) ?? "?")"])
        await onServerRunning()
        try await withGracefulShutdownHandler {
            try await server.executeThenClose { inbound in
                await withDiscardingTaskGroup { tasks in
                    do {
                        for try await connection in inbound {
                            tasks.addTask { await child.handle(value: connection, logger: logger) }
                        }
                    } catch {
                        logger.debug("stopped accepting", metadata: ["error": "\(error)"])
                    }
                }
            }
        } onGracefulShutdown: {
            let done = group.any().makePromise(of: Void.self)
            quiescing.initiateShutdown(promise: done)
        }
    }
}
