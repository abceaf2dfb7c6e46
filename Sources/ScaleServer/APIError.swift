import Foundation
import Hummingbird
import LatentStats

/// An error the API reports as `{"error":{"code","message"}}` with an HTTP status.
public struct APIError: Error, HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status; self.code = code; self.message = message
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    public var body: JSONValue {
        .object([("error", .object([("code", .string(code)), ("message", .string(message))]))])
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body.bytes())))
    }

    static func badRequest(_ code: String, _ message: String) -> APIError { APIError(.badRequest, code, message) }

    static func streamNotFound(_ name: String) -> APIError {
        APIError(.notFound, "stream_not_found", "no stream named '\(name)'; push latents to it or create it with PUT /v1/streams/\(name)")
    }

    init(_ e: TensorError) { self.init(.badRequest, e.code, e.description) }

    init(_ e: NormalizationError) {
        switch e {
        case .rmsNotDefinedForWhiten: self.init(.badRequest, e.code, e.description)
        case .lapackFailed: self.init(.internalServerError, e.code, e.description)
        default: self.init(.conflict, e.code, e.description)
        }
    }
}
