import Foundation
import Hummingbird
import HummingbirdTesting
import LatentStats
import Logging
import NIOCore
import ScaleStore
import Testing
@testable import ScaleServer

/// Every route and every documented error code, in process: the real router
/// and middleware over an in-memory database, with no socket.
@Suite struct RouteTests {
    static func app(maxBodyBytes: Int = 1 << 20) async throws -> some ApplicationProtocol {
        var settings = DaemonSettings(socketPath: "/nonexistent/scaled.sock", databasePath: ":memory:")
        settings.maxBodyBytes = maxBodyBytes
        var logger = Logger(label: "route-tests")
        logger.logLevel = .critical
        return try await ScaleDaemon.buildApplication(settings: settings, database: try ScaleDatabase.inMemory(), logger: logger)
    }

    /// Deterministic values with per-channel means and spreads.
    static func values(samples: Int, channels: Int, inner: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<(samples * channels * inner)).map { i in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let c = (i / inner) % channels
            return Float((Double(state >> 11) / Double(1 << 53) - 0.5) * (1 + Double(c)) + 0.1 * Double(c))
        }
    }

    static func bytes(_ v: [Float]) -> ByteBuffer { v.withUnsafeBytes { ByteBuffer(bytes: $0) } }

    static func json(_ r: TestResponse) throws -> JSONValue { try JSONValue.parse(Data(buffer: r.body)) }

    static func code(_ r: TestResponse) throws -> String? {
        if case .string(let s)? = try json(r)["error"]?["code"] { return s }
        return nil
    }

    static func push(_ client: some TestClientProtocol, _ stream: String, _ v: [Float], shape: [Int],
                     extra: String = "") async throws -> TestResponse {
        try await client.execute(uri: "/v1/streams/\(stream)/latents?dtype=float32&shape=\(shape.map(String.init).joined(separator: ","))\(extra)",
                                 method: .post, headers: [.contentType: "application/octet-stream"], body: bytes(v))
    }

    @Test func healthAndMetrics() async throws {
        try await Self.app().test(.router) { client in
            let h = try await client.execute(uri: "/v1/health", method: .get)
            #expect(h.status == .ok)
            #expect(try Self.json(h)["status"] == .string("ok"))
            #expect(try Self.json(h)["version"] == .string(ScaleDaemon.version))
            let m = try await client.execute(uri: "/metrics", method: .get)
            #expect(m.status == .ok)
            #expect(m.headers[.contentType]?.hasPrefix("text/plain") == true)
            #expect(String(buffer: m.body).contains("scaled_push_duration_seconds_bucket"))
        }
    }

    /// A push answers the batch's statistics, which match a float64 two-pass oracle.
    @Test func pushStatusListAndHistory() async throws {
        try await Self.app().test(.router) { client in
            let v = Self.values(samples: 4, channels: 3, inner: 64, seed: 7)
            let r = try await Self.push(client, "s1", v, shape: [4, 3, 8, 8], extra: "&step=12&tag=64x64")
            #expect(r.status == .ok)
            let body = try Self.json(r)
            #expect(body["accepted"]?["samples"] == .int(4))
            #expect(body["accepted"]?["elements"] == .int(v.count))
            let d = v.map(Double.init)
            let mean = d.reduce(0, +) / Double(d.count)
            let std = (d.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(d.count)).squareRoot()
            let status = try await client.execute(uri: "/v1/streams/s1", method: .get)
            #expect(status.status == .ok)
            let cumulative = try Self.json(status)["cumulative"]
            #expect(abs((cumulative?["mean"]?.doubleValue ?? .nan) - mean) <= 1e-12 * max(1, abs(mean)))
            #expect(abs((cumulative?["std"]?.doubleValue ?? .nan) - std) <= 1e-12 * std)
            #expect(abs((body["normalization"]?["scaling_factor"]?.doubleValue ?? .nan) - 1 / std) <= 1e-12 / std)

            let list = try Self.json(try await client.execute(uri: "/v1/streams", method: .get))
            guard case .array(let streams)? = list["streams"] else { Issue.record("no streams list"); return }
            #expect(streams.count == 1 && streams[0]["name"] == .string("s1") && streams[0]["batches"] == .int(1))

            let history = try Self.json(try await client.execute(uri: "/v1/streams/s1/history", method: .get))
            guard case .array(let rows)? = history["history"] else { Issue.record("no history"); return }
            #expect(rows.count == 1 && rows[0]["step"] == .int(12) && rows[0]["tag"] == .string("64x64"))
            #expect(abs((rows[0]["std"]?.doubleValue ?? .nan) - std) <= 1e-12 * std)
        }
    }

    @Test func npyPush() async throws {
        try await Self.app().test(.router) { client in
            let v = Self.values(samples: 2, channels: 4, inner: 16, seed: 3)
            var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4, 16), }"
            while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
            header += "\n"
            var buffer = ByteBuffer(bytes: [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)])
            buffer.writeString(header)
            v.withUnsafeBytes { _ = buffer.writeBytes($0) }
            let r = try await client.execute(uri: "/v1/streams/npy/latents", method: .post,
                                             headers: [.contentType: "application/x-npy"], body: buffer)
            #expect(r.status == .ok)
            #expect(try Self.json(r)["accepted"]?["elements"] == .int(v.count))
        }
    }

    @Test func configNormalizationFreezeResetDelete() async throws {
        try await Self.app().test(.router) { client in
            let put = try await client.execute(uri: "/v1/streams/cfg", method: .put, body: ByteBuffer(string: #"{"target_std": 0.5}"#))
            #expect(put.status == .ok)
            #expect(try Self.json(put)["config"]?["target_std"]?.doubleValue == 0.5)
            // Created by PUT, no data yet: the normalization is a 409.
            let none = try await client.execute(uri: "/v1/streams/cfg/normalization", method: .get)
            #expect(none.status == .conflict)
            #expect(try Self.code(none) == "no_data")
            let v = Self.values(samples: 4, channels: 2, inner: 32, seed: 11)
            #expect(try await Self.push(client, "cfg", v, shape: [4, 2, 32]).status == .ok)
            for mode in ["scalar", "shift", "channel", "whiten"] {
                let n = try await client.execute(uri: "/v1/streams/cfg/normalization?mode=\(mode)", method: .get)
                #expect(n.status == .ok)
                #expect(try Self.json(n)["mode"] == .string(mode))
            }
            let diffusers = try Self.json(try await client.execute(uri: "/v1/streams/cfg/normalization?format=diffusers", method: .get))
            #expect(diffusers["scaling_factor"] != nil && diffusers["samples"] == nil)
            let frozen = try Self.json(try await client.execute(uri: "/v1/streams/cfg/freeze", method: .post))
            #expect(frozen["reference"]?["source"] == .string("frozen"))
            let reset = try Self.json(try await client.execute(uri: "/v1/streams/cfg/reset", method: .post))
            #expect(reset["totals"]?["batches"] == .int(0) && reset["config"]?["target_std"]?.doubleValue == 0.5)
            let alerts = try await client.execute(uri: "/v1/alerts?all=true", method: .get)
            #expect(alerts.status == .ok)
            let del = try await client.execute(uri: "/v1/streams/cfg", method: .delete)
            #expect(del.status == .ok)
            #expect(try Self.json(del)["deleted"] == .string("cfg"))
            let gone = try await client.execute(uri: "/v1/streams/cfg", method: .delete)
            #expect(gone.status == .notFound)
            #expect(try Self.code(gone) == "stream_not_found")
        }
    }

    /// Each documented 400 code, with nothing changed.
    @Test(arguments: [
        ("/v1/streams/bad%20name", HTTPRequest.Method.get, "", "invalid_stream_name"),
        ("/v1/streams/s", .put, "{not json", "invalid_config"),
        ("/v1/streams/s", .put, #"{"window_batches": 0}"#, "invalid_config"),
        ("/v1/streams/s/latents?shape=2,2", .post, "", "invalid_dtype"),
        ("/v1/streams/s/latents?dtype=int8&shape=2,2", .post, "", "invalid_dtype"),
        ("/v1/streams/s/latents?dtype=float32", .post, "", "invalid_shape"),
        ("/v1/streams/s/latents?dtype=float32&shape=2,x", .post, "", "invalid_shape"),
        ("/v1/streams/s/latents?dtype=float32&shape=2,2,2", .post, "abc", "length_mismatch"),
        ("/v1/streams/s/latents?dtype=float32&shape=2,2&bogus=1", .post, "", "invalid_query"),
        ("/v1/streams/s/latents?dtype=float32&shape=2,2&step=x", .post, "", "invalid_query"),
        ("/v1/streams/s/latents?dtype=float32&shape=2,2&channel_axis=q", .post, "", "invalid_channel_axis"),
        ("/v1/alerts?all=maybe", .get, "", "invalid_query"),
    ])
    func badRequests(uri: String, method: HTTPRequest.Method, body: String, code: String) async throws {
        try await Self.app().test(.router) { client in
            let r = try await client.execute(uri: uri, method: method, headers: [.contentType: "application/octet-stream"],
                                             body: ByteBuffer(string: body))
            #expect(r.status == .badRequest)
            #expect(try Self.code(r) == code)
            let list = try Self.json(try await client.execute(uri: "/v1/streams", method: .get))
            #expect(list["streams"] == .array([]))
        }
    }

    @Test func queryErrorsOnAnExistingStream() async throws {
        try await Self.app().test(.router) { client in
            #expect(try await Self.push(client, "q", Self.values(samples: 2, channels: 2, inner: 4, seed: 1), shape: [2, 2, 4]).status == .ok)
            for uri in ["/v1/streams/q/normalization?mode=nope", "/v1/streams/q/normalization?format=xml",
                        "/v1/streams/q/normalization?method=nope", "/v1/streams/q/history?limit=0"] {
                let r = try await client.execute(uri: uri, method: .get)
                #expect(r.status == .badRequest, "\(uri)")
                #expect(try Self.code(r) == "invalid_query", "\(uri)")
            }
        }
    }

    @Test func unknownStreamIs404() async throws {
        try await Self.app().test(.router) { client in
            for (uri, method) in [("/v1/streams/ghost", HTTPRequest.Method.get), ("/v1/streams/ghost/normalization", .get),
                                  ("/v1/streams/ghost/history", .get), ("/v1/streams/ghost/freeze", .post),
                                  ("/v1/streams/ghost/reset", .post), ("/v1/streams/ghost", .delete)] {
                let r = try await client.execute(uri: uri, method: method)
                #expect(r.status == .notFound, "\(method) \(uri)")
                #expect(try Self.code(r) == "stream_not_found", "\(method) \(uri)")
            }
        }
    }

    @Test func channelMismatchIs409AndChangesNothing() async throws {
        try await Self.app().test(.router) { client in
            #expect(try await Self.push(client, "c", Self.values(samples: 2, channels: 4, inner: 8, seed: 1), shape: [2, 4, 8]).status == .ok)
            let before = String(buffer: try await client.execute(uri: "/v1/streams/c", method: .get).body)
            let r = try await Self.push(client, "c", Self.values(samples: 2, channels: 3, inner: 8, seed: 2), shape: [2, 3, 8])
            #expect(r.status == .conflict)
            #expect(try Self.code(r) == "channel_mismatch")
            let after = String(buffer: try await client.execute(uri: "/v1/streams/c", method: .get).body)
            #expect(before == after)
        }
    }

    @Test func tooLargeIs413AndWrongMediaIs415() async throws {
        try await Self.app(maxBodyBytes: 64).test(.router) { client in
            let big = try await Self.push(client, "t", Self.values(samples: 2, channels: 4, inner: 4, seed: 1), shape: [2, 4, 4])
            #expect(big.status == .contentTooLarge)
            #expect(try Self.code(big) == "body_too_large")
            let media = try await client.execute(uri: "/v1/streams/t/latents?dtype=float32&shape=1,2", method: .post,
                                                 headers: [.contentType: "text/plain"], body: ByteBuffer(bytes: [0, 0, 0, 0, 0, 0, 0, 0]))
            #expect(media.status == .unsupportedMediaType)
            #expect(try Self.code(media) == "unsupported_media_type")
            let list = try Self.json(try await client.execute(uri: "/v1/streams", method: .get))
            #expect(list["streams"] == .array([]))
        }
    }

    /// 404 for a path no route has; 405 with `Allow` for a registered path and
    /// another method, checked against the router's own registered routes.
    @Test func notFoundVersusMethodNotAllowed() async throws {
        let probe = Router()
        APIRoutes(registry: StreamRegistry(db: try .inMemory(), logger: Logger(label: "probe")), metrics: ScaleMetrics(),
                  maxBodyBytes: 1, version: "").register(on: probe)
        var table: [String: Set<HTTPRequest.Method>] = [:]
        for r in probe.routes { table["\(r.path)", default: []].insert(r.method) }
        let registered = table
        #expect(registered.count == 13)
        try await Self.app().test(.router) { client in
            let missing = try await client.execute(uri: "/v1/nothing-here", method: .get)
            #expect(missing.status == .notFound)
            #expect(try Self.code(missing) == "not_found")
            for (pattern, methods) in registered {
                let uri = pattern.replacingOccurrences(of: "{name}", with: "some-stream").replacingOccurrences(of: "{peer}", with: "some-peer")
                #expect(!uri.contains("{") && !uri.contains(":"), "\(pattern) has a capture this test does not fill")
                for method in [HTTPRequest.Method.get, .put, .post, .delete, .patch] where !methods.contains(method) {
                    let r = try await client.execute(uri: uri, method: method)
                    #expect(r.status == .methodNotAllowed, "\(method) \(uri)")
                    #expect(try Self.code(r) == "method_not_allowed")
                    let allow = Set((r.headers[.allow] ?? "").split(separator: ",").map { HTTPRequest.Method(String($0.trimmingCharacters(in: .whitespaces)))! })
                    #expect(allow == methods, "\(uri)")
                }
            }
        }
    }
}
