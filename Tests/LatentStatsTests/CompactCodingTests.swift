import Foundation
import Testing
@testable import LatentStats

/// Version 2 of the summary's binary form (``SummaryFormat/compact``).
@Suite struct CompactCodingTests {
    static func summary(shape: [Int] = [5, 3, 6, 6], offset: Double = 7, scale: Double = 1) throws -> (BatchSummary, ClampCount) {
        var x = Oracle.latents(shape: shape, offset: offset, scale: scale, seed: 9)
        x[4] = .nan; x[17] = -.infinity
        let norm = AffineNormalizer(channels: shape[1], scalingFactor: 0.5, shiftFactor: 7, range: 1)
        let (s, c) = try BatchSummary.of(x, shape: shape, normalizer: norm)
        return (s, try #require(c))
    }

    @Test func bothFormatsRoundTripToTheSameSummary() throws {
        let (s, c) = try Self.summary()
        for format in SummaryFormat.allCases {
            let bytes = s.encoded(format)
            #expect(SummaryFormat(of: bytes) == format)
            #expect(try BatchSummary(encoded: bytes) == s)
            #expect(try BatchSummary(validating: bytes) == s)
            #expect(try ClampCount(encoded: c.encoded(format), format: format) == c)
        }
        #expect(s.encoded() == s.encoded(.fixed))
    }

    /// A hand-encoded clamp count: f64 range, varint elements and outside,
    /// then the sketch as n, and per bucket the key's gap from the previous
    /// key (the first from −1) and the count, all LEB128.
    @Test func clampCountBytesAreAsDocumented() throws {
        let sketch = QuantileSketch(keys: [3, 4, 300], counts: [1, 200, 5])
        let c = ClampCount(range: 1, elements: 300, outside: 2, absSketch: sketch)
        let expected: [UInt8] = [0, 0, 0, 0, 0, 0, 0xF0, 0x3F,   // 1.0
                                 0xAC, 0x02,                      // 300
                                 0x02,                            // 2
                                 0x03,                            // 3 buckets
                                 0x04, 0x01,                      // key 3 (gap 4), count 1
                                 0x01, 0xC8, 0x01,                // key 4 (gap 1), count 200
                                 0xA8, 0x02, 0x05]                // key 300 (gap 296), count 5
        #expect(c.encoded(.compact) == expected)
        #expect(try ClampCount(encoded: expected, format: .compact) == c)
    }

    /// Real latents' sketches hold thousands of adjacent buckets: version 2
    /// must be well under half of version 1.
    @Test func compactIsSmallerForRealSketches() throws {
        let (s, c) = try Self.summary(shape: [32, 4, 32, 32], offset: 0.3, scale: 1.7)
        #expect(s.sketch.keys.count > 1000)
        let fixed = s.encoded(.fixed).count + c.encoded(.fixed).count
        let compact = s.encoded(.compact).count + c.encoded(.compact).count
        #expect(Double(compact) < 0.45 * Double(fixed), "compact \(compact) B vs fixed \(fixed) B")
    }

    @Test func emptyBucketsAreLeftOutAndRefused() throws {
        let withEmpty = QuantileSketch(keys: [1, 2, 3], counts: [4, 0, 5])
        let c = ClampCount(range: 1, elements: 9, outside: 0, absSketch: withEmpty)
        let back = try ClampCount(encoded: c.encoded(.compact), format: .compact)
        #expect(back.absSketch == QuantileSketch(keys: [1, 3], counts: [4, 5]))
        // A count of 0 written by hand is damage.
        var w = ByteWriter()
        w.double(1); w.varint(0); w.varint(0); w.varint(1); w.varint(UInt64(1)); w.varint(UInt64(0))
        #expect(throws: BinaryCodingError.self) { try ClampCount(encoded: w.bytes, format: .compact) }
    }

    /// Every value has one encoding, so that an accepted summary re-encodes
    /// to the same bytes (the FuzzSummary property).
    @Test(arguments: [[0x80, 0x00] as [UInt8], [0x81, 0x80, 0x00], [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02],
                      [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], [0x80]])
    func longOrOverflowingVarintsAreRefused(_ bytes: [UInt8]) {
        var r = ByteReader(bytes)
        #expect(throws: BinaryCodingError.self) { _ = try r.varint() }
    }

    @Test(arguments: [UInt64(0), 1, 127, 128, 300, 16_383, 16_384, 1 << 53, UInt64.max])
    func varintsRoundTrip(_ v: UInt64) throws {
        var w = ByteWriter()
        w.varint(v)
        #expect(w.bytes.count == max(1, (64 - v.leadingZeroBitCount + 6) / 7))
        var r = ByteReader(w.bytes)
        #expect(try r.varint() == v)
        #expect(r.isAtEnd)
    }

    @Test func damagedCompactBytesAreErrorsNotTraps() throws {
        let (s, _) = try Self.summary(shape: [2, 2, 6])
        let bytes = s.encoded(.compact)
        for cut in [0, 3, 5, 6, 20, bytes.count / 2, bytes.count - 1] {
            #expect(throws: BinaryCodingError.self) { try BatchSummary(encoded: Array(bytes[..<cut])) }
        }
        #expect(throws: BinaryCodingError.self) { try BatchSummary(encoded: bytes + [0]) }
        // A channel count whose co-moments cannot fit is refused before allocating them.
        var huge = Array(bytes[..<5]); huge += [0x80, 0x80, 0x04]   // 65536 channels
        Self.expectRoomRefused(huge + [UInt8](repeating: 0, count: 64))
        var keys = ByteWriter()   // keys beyond 16 bits
        keys.varint(2); keys.varint(UInt64(65_000)); keys.varint(UInt64(1)); keys.varint(UInt64(1000)); keys.varint(UInt64(1))
        var r = ByteReader(keys.bytes)
        #expect(throws: BinaryCodingError.self) { _ = try QuantileSketch(compact: &r) }
        // A gap so large that key + gap overflows 64 bits (found by FuzzStoredState).
        var overflow = ByteWriter()
        overflow.varint(2); overflow.varint(UInt64(10)); overflow.varint(UInt64(1)); overflow.varint(UInt64.max); overflow.varint(UInt64(1))
        var o = ByteReader(overflow.bytes)
        #expect(throws: BinaryCodingError.self) { _ = try QuantileSketch(compact: &o) }
    }

    /// Decoding `bytes` fails on the room check, the one that comes before
    /// any allocation sized by the channel count.
    static func expectRoomRefused(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try BatchSummary(encoded: bytes)
            Issue.record("accepted", sourceLocation: sourceLocation)
        } catch {
            guard case .inconsistent(let what) = error, what.hasPrefix("channel count") else {
                Issue.record("refused for another reason: \(error)", sourceLocation: sourceLocation)
                return
            }
        }
    }

    /// Version 1 with a channel count that the bytes hold as a count but not
    /// as co-moments: 20,000 channels and 30 KB would have allocated 3.2 GB
    /// of co-moments before finding the bytes missing (FuzzStoredState ran
    /// out of memory in CI on such a blob).
    @Test func aFixedChannelCountBeyondTheBytesIsRefusedBeforeAllocating() throws {
        let (s, _) = try Self.summary(shape: [2, 2, 6])
        var w = ByteWriter()
        w.int(20_000)
        let damaged = Array(s.encoded(.fixed)[..<5]) + w.bytes + [UInt8](repeating: 0, count: 30_000)
        Self.expectRoomRefused(damaged)
        // The smallest well-formed summaries still decode: the bound is a lower bound.
        for c in [1, 2, 7] {
            let empty = BatchSummary(channels: c)
            for format in SummaryFormat.allCases {
                #expect(try BatchSummary(encoded: empty.encoded(format)) == empty)
            }
        }
    }

    /// The FuzzSummary seeds (real `GET …/summary` answers, and the same in
    /// version 2 from the man page's coder): each is accepted and re-encodes,
    /// in its own version, to its bytes; version 1 and 2 of one summary decode equal.
    @Test func fuzzSeedsHoldTheFuzzProperty() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../fuzz/corpus/FuzzSummary").standardizedFileURL
        var byVersion: [SummaryFormat: [BatchSummary]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) {
            let bytes = [UInt8](try Data(contentsOf: dir.appendingPathComponent(name)))
            let s = try BatchSummary(validating: bytes)
            let format = try #require(SummaryFormat(of: bytes))
            #expect(s.encoded(format) == bytes, "\(name)")
            byVersion[format, default: []].append(s)
        }
        let v1 = byVersion[.fixed] ?? [], v2 = byVersion[.compact] ?? []
        #expect(v1.count >= 3 && v2.count == v1.count)
        for s in v2 { #expect(v1.contains(s)) }
    }
}
