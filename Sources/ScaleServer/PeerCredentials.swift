#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HTTPTypes
import Logging
import NIOCore
import NIOHTTPTypes

/// Who may talk to `scaled` over its socket, by the connecting process's
/// credentials (`SO_PEERCRED`): the daemon's own uid and root always, and
/// the uids and gids given with `--allow-uid`/`--allow-gid`. So the check
/// holds even when the socket's mode is loosened.
public struct PeerPolicy: Sendable, Equatable {
    public var uids: Set<UInt32>
    public var gids: Set<UInt32>

    public init(allowUIDs: [UInt32] = [], allowGIDs: [UInt32] = [], ownUID: UInt32 = getuid()) {
        uids = Set(allowUIDs + [ownUID, 0]); gids = Set(allowGIDs)
    }

    public func allows(uid: UInt32, gid: UInt32) -> Bool { uids.contains(uid) || gids.contains(gid) }
}

/// `struct ucred` of Linux, which Glibc's module does not export.
struct PeerCredentials: Sendable {
    var pid: Int32
    var uid: UInt32
    var gid: UInt32
}

/// Refuses a connection from a peer the policy does not allow: its first
/// request is answered `403 forbidden_peer` and the connection is closed.
/// Requests that arrive before the check completes wait for it.
final class PeerCredentialsHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let policy: PeerPolicy
    let logger: Logger
    private enum Verdict { case pending([NIOAny]), allowed, refused(PeerCredentials?) }
    private var verdict = Verdict.pending([])

    init(policy: PeerPolicy, logger: Logger) { self.policy = policy; self.logger = logger }

    func handlerAdded(context: ChannelHandlerContext) {
        #if os(Linux)
        guard let provider = context.channel as? any SocketOptionProvider else { decide(nil, context: context); return }
        let future: EventLoopFuture<PeerCredentials> = provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        future.whenComplete { result in
            let (handler, context) = loopBound.value
            handler.decide(try? result.get(), context: context)
        }
        #else
        verdict = .allowed
        #endif
    }

    private func decide(_ creds: PeerCredentials?, context: ChannelHandlerContext) {
        guard case .pending(let waiting) = verdict else { return }
        if let creds, policy.allows(uid: creds.uid, gid: creds.gid) {
            verdict = .allowed
            for part in waiting { context.fireChannelRead(part) }
        } else {
            verdict = .refused(creds)
            logger.warning("refused a peer", metadata: ["uid": "\(creds.map { String($0.uid) } ?? "unknown")",
                                                        "gid": "\(creds.map { String($0.gid) } ?? "unknown")",
                                                        "pid": "\(creds.map { String($0.pid) } ?? "unknown")"])
            if !waiting.isEmpty { refuse(context: context) }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch verdict {
        case .allowed: context.fireChannelRead(data)
        case .pending(var waiting): waiting.append(data); verdict = .pending(waiting)
        case .refused: refuse(context: context)
        }
    }

    private var answered = false

    private func refuse(context: ChannelHandlerContext) {
        guard !answered else { return }
        answered = true
        var uid = "unknown"
        if case .refused(let c?) = verdict { uid = String(c.uid) }
        let body = ByteBuffer(string: #"{"error":{"code":"forbidden_peer","message":"uid \#(uid) may not use this scaled; start scaled with --allow-uid \#(uid) (or --allow-gid) to let it in"}}"#)
        var head = HTTPResponse(status: .forbidden)
        head.headerFields[.contentType] = "application/json"
        head.headerFields[.contentLength] = String(body.readableBytes)
        head.headerFields[.connection] = "close"
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }
}
