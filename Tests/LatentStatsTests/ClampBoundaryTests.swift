import Testing
@testable import LatentStats

/// The clamp count at its boundary: `clip_sample` leaves a value of exactly
/// ±range as it is, so only |y| > range counts as outside. Values are placed
/// exactly on the boundary (hand-computed below), for every kernel: AVX2
/// and portable, per element and histogram mode.
@Suite struct ClampBoundaryTests {
    /// Per channel y = (x − shift)·scale: channels 0 and 2 take shift 0.5 and
    /// scale 2, so x = 0 and x = 1 give y = −1 and 1; channels 1 and 3 take
    /// y = x, so x = ±1 give y = ±1. Over the pattern below that is 5 values
    /// outside (x = −2, −1, −0.5, 1.5, 2) and 3 (x = −2, 1.5, 2) per 8.
    static let pattern: [Double] = [-2, -1, -0.5, 0, 0.5, 1, 1.5, 2]
    static let normalizer = AffineNormalizer(shift: [0.5, 0, 0.5, 0], scale: [2, 1, 2, 1], range: 1)

    @Test(arguments: [DType.float32, .bfloat16, .float16])
    func valuesOnTheRangeAreNotOutside(dtype: DType) throws {
        for shape in [[2, 4, 8, 8], [16, 4, 64, 64]] {
            let layout = try TensorLayout(shape: shape, dtype: dtype)
            let perChannel = shape[2] * shape[3]
            let raw = (0..<layout.elementCount).map { Self.pattern[($0 % perChannel) % 8] }
            let (bytes, decoded) = IngestPathTests.encode(raw, dtype)
            #expect(decoded == raw)   // every value is exact in every dtype
            let expected = shape[0] * (perChannel / 8) * (5 + 3 + 5 + 3)
            for simd in [true, false] {
                for histogram in [true, false] {
                    let r = bytes.withUnsafeBytes {
                        BatchSummary.summarize($0, layout: layout, normalizer: Self.normalizer, excludeNonfinite: false,
                                               histogram: histogram, simd: simd)
                    }
                    #expect(r.clamp?.outside == expected, "\(dtype) \(shape) simd \(simd) histogram \(histogram)")
                    #expect(r.clamp?.elements == layout.elementCount)
                }
            }
        }
    }
}
