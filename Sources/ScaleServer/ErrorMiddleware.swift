import Hummingbird
import Logging
import NIOCore
import NIOHTTP1

/// Turns every error into the protocol's JSON error body, and tells a wrong
/// method (405, with `Allow`) from an unknown path (404).
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The registered routes, for 404 versus 405.
    var routes: RouteTable
    /// On the TCP metrics listener only /metrics and /v1/health exist.
    var onlyMetrics = false

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as APIError {
            throw e
        } catch let e as HTTPError where e.status == .notFound {
            let path = request.uri.path
            if onlyMetrics {
                throw APIError(.notFound, "not_found", "only GET /metrics and GET /v1/health are served over TCP; use the Unix socket for the API")
            }
            if let methods = routes.allowedMethods(path: path) {
                var err = APIError(.methodNotAllowed, "method_not_allowed",
                                   "\(request.method.rawValue) is not allowed on \(path); use \(methods.map(\.rawValue).joined(separator: " or "))")
                err.headers[.allow] = methods.map(\.rawValue).joined(separator: ", ")
                throw err
            }
            throw APIError(.notFound, "not_found", "no route \(request.method.rawValue) \(path); see scaled-protocol(7) for the API")
        } catch let e as HTTPParserError {
            // The client sent a body that cannot be read: a client fault, not ours.
            context.logger.info("could not read a request body", metadata: ["error": "\(e)", "path": "\(request.uri.path)"])
            throw APIError(.badRequest, "invalid_body", "the request body could not be read (\(e)): it is shorter than its Content-Length, or its chunked encoding is malformed; send the whole body")
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, "body_too_large", "the body is too large")
        } catch let e as any HTTPResponseError {
            throw APIError(e.status, e.status.code == 400 ? "bad_request" : "http_\(e.status.code)", "\(e)")
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            throw APIError(.internalServerError, "internal", "internal error: \(error)")
        }
    }
}
