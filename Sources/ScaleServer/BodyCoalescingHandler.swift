import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Hands a request body with a `Content-Length` up the pipeline as one part
/// once it has all arrived, instead of one part per socket read.
///
/// A 2 MiB push arrives in about ten reads. Passed on one by one, each read
/// woke the route's task to copy it into the collected body and put it to
/// sleep again: two thread switches a read, most of the daemon's scheduler
/// time per push (`strace -c`: 24 futex calls a push). Gathered here, on the
/// event loop, the same one copy is made and the task wakes once.
///
/// The head goes on at once, so the route still checks the request line and
/// headers before any body arrives (``ExpectContinueHandler``). Bodies
/// without a `Content-Length` (chunked), and any longer than `maxBodyBytes`
/// (the route refuses those), pass through part by part. A connection that
/// closes mid-body passes on no partial body: the route sees the body end
/// with an error, as before.
final class BodyCoalescingHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    let maxBodyBytes: Int
    /// The length of the body being gathered (nil: no request with a length in flight).
    private var expected: Int?
    /// What has arrived of it.
    private var gathering: ByteBuffer?

    init(maxBodyBytes: Int) { self.maxBodyBytes = maxBodyBytes }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            expected = head.headerFields[.contentLength].flatMap { Int($0) }.flatMap { $0 > 0 && $0 <= maxBodyBytes ? $0 : nil }
            gathering = nil
            context.fireChannelRead(data)
        case .body(var part):
            guard let expected else { context.fireChannelRead(data); return }
            if gathering == nil && part.readableBytes == expected {
                gathering = part   // the whole body in one read: no copy
            } else {
                if gathering == nil { gathering = context.channel.allocator.buffer(capacity: expected) }
                gathering!.writeBuffer(&part)
            }
        case .end:
            if let body = gathering { context.fireChannelRead(wrapInboundOut(.body(body))) }
            expected = nil
            gathering = nil
            context.fireChannelRead(data)
        }
    }
}
