import HTTPTypes
import HummingbirdCore
import NIOCore
import NIOHTTPTypes

/// `Expect: 100-continue` (curl sends it for bodies over 1 MiB): answers
/// `100 Continue` at once, so the client sends the body without its one-second
/// wait, unless the request line and headers already decide a 4xx (a push
/// with a bad stream name, query, dtype, shape or Content-Type, or any body
/// over `--max-body-bytes`). Then no 100 is sent: the route answers that 4xx
/// before any body arrives, and the connection is closed after it, since the
/// client will not send the body it announced.
final class ExpectContinueHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let maxBodyBytes: Int
    private var closeAfterResponse = false

    init(maxBodyBytes: Int) { self.maxBodyBytes = maxBodyBytes }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data),
              let expect = head.headerFields[.expect], expect.lowercased() == "100-continue" else {
            context.fireChannelRead(data)
            return
        }
        head.headerFields[.expect] = nil   // handled here
        if Self.decidesA4xx(head, maxBodyBytes: maxBodyBytes) {
            closeAfterResponse = true
        } else {
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
        }
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard closeAfterResponse else { context.write(data, promise: promise); return }
        switch unwrapOutboundIn(data) {
        case .head(var response) where response.status.kind != .informational:
            response.headerFields[.connection] = "close"
            context.write(wrapOutboundOut(.head(response)), promise: promise)
        case .end:
            closeAfterResponse = false
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.cascade(to: promise)
            context.writeAndFlush(data, promise: written)
            written.futureResult.whenComplete { _ in context.close(promise: nil) }
        default:
            context.write(data, promise: promise)
        }
    }

    /// Whether the request line and headers alone already mean a 4xx.
    static func decidesA4xx(_ head: HTTPRequest, maxBodyBytes: Int) -> Bool {
        if let text = head.headerFields[.contentLength], (Int(text).map { $0 < 0 || $0 > maxBodyBytes } ?? true) { return true }
        let uri = URI(head.path ?? "/")
        let parts = uri.path.split(separator: "/").map(String.init)
        guard head.method == .post, parts.count == 4, parts[0] == "v1", parts[1] == "streams", parts[3] == "latents" else {
            return false
        }
        do {
            let push = try PushRequest(name: parts[2], query: uri, contentType: head.headerFields[.contentType],
                                       contentLength: head.headerFields[.contentLength], maxBodyBytes: maxBodyBytes)
            try push.checkShape()
            return false
        } catch {
            return true
        }
    }
}
