import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import HummingbirdCore
import Testing
@testable import ScaleServer

/// ``BodyCoalescingHandler`` on an embedded channel: what the route's body stream receives.
@Suite struct BodyCoalescingTests {
    /// The parts that come out of the handler for `parts` going in.
    static func through(_ parts: [HTTPRequestPart], maxBodyBytes: Int = 1 << 20) throws -> [HTTPRequestPart] {
        let channel = EmbeddedChannel(handler: BodyCoalescingHandler(maxBodyBytes: maxBodyBytes))
        for p in parts { try channel.writeInbound(p) }
        var out: [HTTPRequestPart] = []
        while let p = try channel.readInbound(as: HTTPRequestPart.self) { out.append(p) }
        _ = try channel.finish()
        return out
    }

    static func head(length: Int?) -> HTTPRequestPart {
        var fields = HTTPFields()
        if let length { fields[.contentLength] = String(length) }
        return .head(HTTPRequest(method: .post, scheme: nil, authority: nil, path: "/v1/streams/s/latents", headerFields: fields))
    }

    static func bytes(_ values: some Sequence<UInt8>) -> ByteBuffer { ByteBuffer(bytes: Array(values)) }

    /// The bodies among `parts`, as byte arrays, in order.
    static func bodies(_ parts: [HTTPRequestPart]) -> [[UInt8]] {
        parts.compactMap { if case .body(let b) = $0 { Array(b.readableBytesView) } else { nil } }
    }

    @Test func aBodyWithALengthComesOutAsOnePartBeforeTheEnd() throws {
        let data = (0..<250).map { UInt8($0) }
        let out = try Self.through([Self.head(length: 250), .body(Self.bytes(data[0..<7])), .body(Self.bytes(data[7..<200])),
                                    .body(Self.bytes(data[200...])), .end(nil)])
        #expect(out.count == 3)
        guard out.count == 3, case .head(let h) = out[0], case .end = out[2] else { Issue.record("\(out)"); return }
        #expect(h.headerFields[.contentLength] == "250")
        #expect(Self.bodies(out) == [data])
    }

    /// Requests one after another on a connection: each body is its own.
    @Test func keptAliveRequestsKeepTheirOwnBodies() throws {
        let out = try Self.through([Self.head(length: 3), .body(Self.bytes([1, 2])), .body(Self.bytes([3])), .end(nil),
                                    Self.head(length: 0), .end(nil),
                                    Self.head(length: 2), .body(Self.bytes([9, 8])), .end(nil)])
        #expect(Self.bodies(out) == [[1, 2, 3], [9, 8]])
        #expect(out.count == 8)   // three heads, two bodies, three ends
    }

    /// Chunked bodies (no length) and bodies over the limit pass through as they came.
    @Test func bodiesWithoutALengthOrOverTheLimitPassThrough() throws {
        let chunked = try Self.through([Self.head(length: nil), .body(Self.bytes([1])), .body(Self.bytes([2, 3])), .end(nil)])
        #expect(Self.bodies(chunked) == [[1], [2, 3]])
        let big = try Self.through([Self.head(length: 5), .body(Self.bytes([1, 2])), .body(Self.bytes([3, 4, 5])), .end(nil)],
                                   maxBodyBytes: 4)
        #expect(Self.bodies(big) == [[1, 2], [3, 4, 5]])
    }

    /// A connection closed mid-body passes on no partial body.
    @Test func aBodyCutShortIsNotPassedOn() throws {
        let channel = EmbeddedChannel(handler: BodyCoalescingHandler(maxBodyBytes: 1 << 20))
        try channel.writeInbound(Self.head(length: 10))
        try channel.writeInbound(HTTPRequestPart.body(Self.bytes([1, 2, 3])))
        var out: [HTTPRequestPart] = []
        while let p = try channel.readInbound(as: HTTPRequestPart.self) { out.append(p) }
        #expect(out.count == 1)
        #expect(Self.bodies(out).isEmpty)
        _ = try? channel.finish()
    }

    /// The route's collection takes a single part as it is and joins several.
    @Test func collectBodyJoinsPartsAndEnforcesTheLimit() async throws {
        let one = try await APIRoutes.collectBody(RequestBodyFixture.parts([[1, 2, 3]]), limit: 10)
        #expect(Array(one.readableBytesView) == [1, 2, 3])
        let many = try await APIRoutes.collectBody(RequestBodyFixture.parts([[1], [2, 3], [4]]), limit: 10)
        #expect(Array(many.readableBytesView) == [1, 2, 3, 4])
        await #expect(throws: (any Error).self) {
            _ = try await APIRoutes.collectBody(RequestBodyFixture.parts([[1, 2], [3, 4]]), limit: 3)
        }
    }
}

/// Request bodies made of given parts.
enum RequestBodyFixture {
    static func parts(_ parts: [[UInt8]]) -> RequestBody {
        let stream = AsyncStream<ByteBuffer> { c in
            for p in parts { c.yield(ByteBuffer(bytes: p)) }
            c.finish()
        }
        return RequestBody(asyncSequence: stream)
    }
}
