import Testing
@testable import LatentStats

@Suite struct BinaryCodingTests {
    @Test func summaryRoundTrips() throws {
        var x = Oracle.latents(shape: [5, 3, 6, 6], offset: 7, seed: 9)
        x[4] = .nan; x[17] = -.infinity
        let norm = AffineNormalizer(channels: 3, scalingFactor: 0.5, shiftFactor: 7, range: 1)
        let (s, c) = try BatchSummary.of(x, shape: [5, 3, 6, 6], normalizer: norm)
        #expect(try BatchSummary(encoded: s.encoded()) == s)
        #expect(try ClampCount(encoded: c!.encoded()) == c!)
    }

    @Test func damagedBytesAreErrorsNotTraps() throws {
        let (s, _) = try BatchSummary.of(Oracle.latents(shape: [2, 2, 3], seed: 1), shape: [2, 2, 3])
        let bytes = s.encoded()
        for cut in [0, 3, 5, 20, bytes.count - 1] {
            #expect(throws: BinaryCodingError.self) { try BatchSummary(encoded: Array(bytes[..<cut])) }
        }
        var wrong = bytes; wrong[0] = 0x00
        #expect(throws: BinaryCodingError.badMagic) { try BatchSummary(encoded: wrong) }
        var version = bytes; version[4] = 99
        #expect(throws: BinaryCodingError.unsupportedVersion(99)) { try BatchSummary(encoded: version) }
        #expect(throws: BinaryCodingError.self) { try BatchSummary(encoded: bytes + [0]) }
    }
}

@Suite struct SummaryValidationTests {
    /// Found by FuzzSummary: per-channel counts whose sum overflows trapped in
    /// `validate()` (and so a `PUT .../peers/P` body killed the daemon).
    @Test func countsThatOverflowAreRefusedNotTraps() throws {
        let (s, _) = try BatchSummary.of(Oracle.latents(shape: [2, 2, 3], seed: 1), shape: [2, 2, 3])
        #expect(try BatchSummary(validating: s.encoded()) == s)
        var huge = s
        huge.perChannel[0].count = 1 << 62; huge.perChannel[1].count = 1 << 62
        #expect(throws: BinaryCodingError.self) { try BatchSummary(validating: huge.encoded()) }
        var big = s
        big.elements = Int.max; big.nanCount = Int.max
        #expect(throws: BinaryCodingError.self) { try BatchSummary(validating: big.encoded()) }
        var over = s
        over.total.count = BatchSummary.maxCount + 1
        #expect(throws: BinaryCodingError.self) { try BatchSummary(validating: over.encoded()) }
    }
}
