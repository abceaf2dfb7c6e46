import Foundation
import Hummingbird
import LatentStats
import NIOCore
import ScaleStore
import StreamModel

/// The routes of `scaled-protocol(7)`, for the Unix socket.
struct APIRoutes: Sendable {
    let registry: StreamRegistry
    let metrics: ScaleMetrics
    let maxBodyBytes: Int
    let version: String

    func register(on router: Router<BasicRequestContext>) {
        Self.registerMetrics(on: router, metrics: metrics, version: version)
        router.get("/v1/streams") { _, _ in
            var items: [JSONValue] = []
            for s in await registry.all() { items.append(await s.listEntry()) }
            return json(.object([("streams", .array(items))]))
        }
        router.put("/v1/streams/:name") { request, context in
            let name = try StreamName.validate(context.parameters.get("name"))
            let body = try await request.body.collect(upTo: 1 << 20)
            let patch: JSONValue
            do { patch = try JSONValue.parse(Data(buffer: body)) } catch {
                throw APIError.badRequest("invalid_config", "the body is not valid JSON; send a JSON object such as {\"target_std\": 0.5}")
            }
            let stream = await registry.getOrCreate(name)
            return json(try await stream.configure(patch, now: Date()))
        }
        router.get("/v1/streams/:name") { request, context in
            let scope = try parse(StatisticsScope.self, request.uri.queryParameters.get("scope"), "scope", default: .local)
            return json(try await stream(context).status(scope: scope))
        }
        router.delete("/v1/streams/:name") { _, context in
            let name = try StreamName.validate(context.parameters.get("name"))
            guard try await registry.delete(name) else { throw APIError.streamNotFound(name) }
            return json(.object([("deleted", .string(name))]))
        }
        router.post("/v1/streams/:name/latents") { request, context in
            try await push(request, context)
        }
        router.get("/v1/streams/:name/normalization") { request, context in
            let q = request.uri.queryParameters
            let mode = try parse(NormalizationMode.self, q.get("mode"), "mode", default: .shift)
            let method = try parse(NormalizationMethod.self, q.get("method"), "method", default: .std)
            let scope = try parse(StatisticsScope.self, q.get("scope"), "scope", default: .local)
            let format = q.get("format") ?? "json"
            guard format == "json" || format == "diffusers" else {
                throw APIError.badRequest("invalid_query", "format '\(format)' is unknown; use json or diffusers")
            }
            if let tag = q.get("tag") {
                guard scope == .local else {
                    throw APIError.badRequest("invalid_query", "tag= and scope=global cannot be combined: buckets are this node's own; ask one or the other")
                }
                return json(try await stream(context).normalization(mode: mode, method: method, diffusers: format == "diffusers", tag: tag))
            }
            return json(try await stream(context).normalization(mode: mode, method: method, diffusers: format == "diffusers", scope: scope))
        }
        router.get("/v1/streams/:name/histogram") { request, context in
            let s = try await stream(context)
            let q = request.uri.queryParameters
            return json(try await s.histogram(HistogramQuery { q.get($0) }))
        }
        router.get("/v1/streams/:name/summary") { request, context in
            let scope = request.uri.queryParameters.get("scope") ?? "cumulative"
            guard scope == "cumulative" || scope == "window" else {
                throw APIError.badRequest("invalid_query", "scope '\(scope)' is unknown for a summary; use cumulative (the default) or window")
            }
            let bytes = try await stream(context).summary(window: scope == "window")
            return Response(status: .ok, headers: [.contentType: summaryMediaType],
                            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        router.put("/v1/streams/:name/peers/:peer") { request, context in
            let name = try StreamName.validate(context.parameters.get("name"))
            let peer = try StreamName.validate(context.parameters.get("peer"), what: "peer")
            let type = request.headers[.contentType]?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard type == nil || type == summaryMediaType || type == "application/octet-stream" else {
                throw APIError(.unsupportedMediaType, "unsupported_media_type", "a peer's body is a summary: send Content-Type \(summaryMediaType)")
            }
            let limit = Swift.min(maxBodyBytes, 256 << 20)
            if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit { throw PushRequest.tooLarge(limit) }
            let body: ByteBuffer
            do { body = try await request.body.collect(upTo: limit) } catch is NIOTooManyBytesError { throw PushRequest.tooLarge(limit) }
            let stream = await registry.getOrCreate(name)
            return json(try await stream.setPeer(peer, bytes: Array(buffer: body), now: Date()))
        }
        router.delete("/v1/streams/:name/peers/:peer") { _, context in
            let peer = try StreamName.validate(context.parameters.get("peer"), what: "peer")
            return json(try await stream(context).deletePeer(peer, now: Date()))
        }
        router.post("/v1/streams/:name/freeze") { _, context in
            json(try await stream(context).freeze(now: Date()))
        }
        router.post("/v1/streams/:name/reset") { _, context in
            json(try await stream(context).reset(now: Date()))
        }
        router.get("/v1/streams/:name/history") { request, context in
            let s = try await stream(context)
            var limit = 1000
            if let text = request.uri.queryParameters.get("limit") {
                guard let v = Int(text), v >= 1 else { throw APIError.badRequest("invalid_query", "limit must be a positive integer") }
                limit = v
            }
            if let tag = request.uri.queryParameters.get("tag") {
                return json(try await s.history(limit: limit, tag: tag))
            }
            return json(try await s.history(limit: limit))
        }
        router.get("/v1/alerts") { request, _ in
            let allText = request.uri.queryParameters.get("all")
            guard allText == nil || allText == "true" || allText == "false" || allText == "1" || allText == "0" else {
                throw APIError.badRequest("invalid_query", "all must be true or false")
            }
            let all = allText == "true" || allText == "1"
            let rows: [AlertTransition]
            do { rows = try registry.db.currentAlerts(includeResolved: true, limit: all ? 1000 : 20) } catch {
                throw APIError(.internalServerError, "storage_failed", "could not read alerts: \(error)")
            }
            return json(.object([("alerts", .array(rows.map { r in
                alertJSON(stream: r.stream, kind: r.kind, state: r.state, severity: r.severity, since: r.since,
                          resolvedAt: r.resolvedAt, message: r.message, value: r.value)
            }))]))
        }
    }

    /// `GET /metrics` and `GET /v1/health`: all that the TCP listener serves, and part of the socket's API.
    static func registerMetrics(on router: Router<BasicRequestContext>, metrics: ScaleMetrics, version: String) {
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: metrics.exposition())))
        }
        router.get("/v1/health") { _, _ in
            json(.object([("status", .string("ok")), ("version", .string(version))]))
        }
    }

    func stream(_ context: BasicRequestContext) async throws -> StreamActor {
        let name = try StreamName.validate(context.parameters.get("name"))
        guard let s = await registry.existing(name) else { throw APIError.streamNotFound(name) }
        return s
    }

    func parse<T: RawRepresentable & CaseIterable>(_: T.Type, _ text: String?, _ name: String, default d: T) throws -> T
    where T.RawValue == String {
        guard let text else { return d }
        guard let v = T(rawValue: text) else {
            throw APIError.badRequest("invalid_query", "\(name) '\(text)' is unknown; use one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return v
    }
}

/// A JSON response.
func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
    Response(status: status, headers: [.contentType: "application/json"],
             body: .init(byteBuffer: ByteBuffer(bytes: value.bytes())))
}
