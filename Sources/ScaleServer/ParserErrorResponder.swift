import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Answers a request that NIO's HTTP parser refuses before its head is
/// complete (a bad request line or header, a non-numeric Content-Length)
/// with the protocol's JSON error body, `400 bad_request`, where Hummingbird
/// would write a bare `400`; then the connection closes, as it must after a
/// parse error. A parse error inside a body (a malformed chunk, a body cut
/// short) is passed on: the route is reading that body and answers
/// `400 invalid_body`. Responses to requests already read are written first.
///
/// A request with a transfer coding other than `chunked` is answered
/// `501 unsupported_transfer_coding` here and the connection closed: its body
/// cannot be framed, so nothing after its head can be read (RFC 9112 §6.1).
final class ParserErrorResponder: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// A request whose head was read and whose end was not.
    private var requestInProgress = false
    /// That request was already answered (say, 501 for its transfer coding).
    private var answeredInProgress = false
    /// Requests read and not yet answered in full (HTTP/1.1 pipelining).
    private var unanswered = 0
    /// The parse error to answer once those are answered.
    private var deferred: HTTPParserError?

    /// Set once the connection is being closed after an answer of ours.
    private var closing = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let part = unwrapInboundIn(data)
        if case .head(let head) = part, let coding = head.headerFields[.transferEncoding],
           coding.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) != ["chunked"] {
            guard unanswered == 0 else { closing = true; return }   // pipelined behind others: just close after them
            respond(.notImplemented, code: "unsupported_transfer_coding",
                    message: "Transfer-Encoding '\(coding)' is not supported; send the body as is (with Content-Length) or chunked",
                    context: context)
            return
        }
        switch part {
        case .head: requestInProgress = true; answeredInProgress = false; unanswered += 1
        case .end: requestInProgress = false
        case .body: break
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else { context.fireErrorCaught(error); return }
        guard !closing else { return }
        if requestInProgress {
            // The route reading this body answers it (400 invalid_body), unless it already has.
            if answeredInProgress { context.close(promise: nil) } else { context.fireErrorCaught(error) }
            return
        }
        if unanswered > 0 { deferred = parserError; return }
        answer(parserError, context: context)
    }

    private func answer(_ parserError: HTTPParserError, context: ChannelHandlerContext) {
        respond(.badRequest, code: "bad_request",
                message: "the request could not be parsed as HTTP/1.1 (\(parserError)); check the request line, the headers and Content-Length",
                context: context)
    }

    /// Writes a JSON error answer and closes the connection after it.
    private func respond(_ status: HTTPResponse.Status, code: String, message: String, context: ChannelHandlerContext) {
        closing = true
        let body = ByteBuffer(string: #"{"error":{"code":"\#(code)","message":"\#(message.replacingOccurrences(of: "\"", with: "'"))"}}"#)
        var head = HTTPResponse(status: status)
        head.headerFields[.contentType] = "application/json"
        head.headerFields[.connection] = "close"
        head.headerFields[.contentLength] = String(body.readableBytes)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .end:
            unanswered = max(0, unanswered - 1)
            if requestInProgress { answeredInProgress = true }
            context.write(data, promise: promise)
            if unanswered == 0, let error = deferred {
                deferred = nil
                answer(error, context: context)
            }
            return
        default: break
        }
        context.write(data, promise: promise)
    }
}
