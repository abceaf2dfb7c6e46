import TestSupport
import Foundation
import Testing
@testable import LatentStats

/// The ingest kernel has a fast path (finite samples, read straight from the
/// encoded bytes, tiled) and a general path (decode to Doubles, non-finite
/// values, channels-last). These tests pin both to the float64 oracle for
/// every dtype and to each other.
@Suite struct IngestPathTests {
    /// Encodes values little-endian; returns the bytes and the values as decoded.
    static func encode(_ x: [Double], _ dtype: DType) -> ([UInt8], [Double]) {
        var bytes: [UInt8] = []
        var decoded: [Double] = []
        bytes.reserveCapacity(x.count * dtype.size)
        for v in x {
            switch dtype {
            case .float64:
                withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 }
                decoded.append(v)
            case .float32:
                let f = Float(v)
                withUnsafeBytes(of: f.bitPattern.littleEndian) { bytes += $0 }
                decoded.append(Double(f))
            case .float16:
                let h = Float16(Float(v)).bitPattern
                withUnsafeBytes(of: h.littleEndian) { bytes += $0 }
                decoded.append(Double(HalfPrecision.float16(h)))
            case .bfloat16:
                let b = v.isNaN ? UInt16(0x7FC0) : UInt16(Float(v).bitPattern >> 16) // truncation is fine here
                withUnsafeBytes(of: b.littleEndian) { bytes += $0 }
                decoded.append(Double(HalfPrecision.bfloat16(b)))
            }
        }
        return (bytes, decoded)
    }

    static func ingest(_ bytes: [UInt8], _ layout: TensorLayout, _ normalizer: AffineNormalizer?) throws -> (BatchSummary, ClampCount?) {
        try bytes.withUnsafeBytes { try BatchSummary.ingest(bytes: $0, layout: layout, normalizer: normalizer) }
    }

    /// The general path alone: every sample decoded into the scratch and
    /// processed as if it held non-finite values.
    static func ingestGeneral(_ values: [Double], _ layout: TensorLayout, _ normalizer: AffineNormalizer?) -> (BatchSummary, ClampCount?) {
        var kernel = IngestKernel(layout: layout, normalizer: normalizer)
        let per = layout.elementsPerSample
        for s in 0..<layout.samples {
            kernel.scratch = Array(values[(s * per)..<((s + 1) * per)])
            kernel.processSample()
        }
        return kernel.finish()
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let shape: [Int]; let axis: Int; let dtype: DType; let offset: Double
        var testDescription: String { "\(dtype) \(shape) axis \(axis) offset \(offset)" }
    }

    // Odd lengths (unroll tails), several tiles per row and a partial last
    // tile, outer > 1, one channel, sixteen channels (BLAS), channels-last
    // (strided lines, several tiles), a short inner with outer > 1.
    static let shapes: [([Int], Int)] = [
        ([5, 4, 9, 9], 1), ([2, 4, 30, 51], 1), ([3, 2, 5, 3, 17], 2), ([4, 1, 33], 1),
        ([3, 16, 7, 11], 1), ([4, 6, 5, 3], -1), ([2, 600, 16], -1), ([3, 7, 5, 3], 2),
    ]
    static let cases: [Case] = DType.allCases.flatMap { dtype in
        shapes.flatMap { shape, axis in
            [0.0, 1e3].map { Case(shape: shape, axis: axis, dtype: dtype, offset: $0) }
        }
    }

    @Test(arguments: cases)
    func everyDTypeMatchesTheOracleAndTheGeneralPath(c: Case) throws {
        let layout = try TensorLayout(shape: c.shape, dtype: c.dtype, channelAxis: c.axis)
        let raw = Oracle.latents(shape: c.shape, axis: layout.channelAxis, offset: c.offset,
                                 seed: UInt64(c.shape.reduce(0, +)))
        let (bytes, x) = Self.encode(raw, c.dtype)
        let norm = AffineNormalizer(channels: layout.channels, scalingFactor: 0.4, shiftFactor: c.offset + 0.1, range: 0.5)
        let (s, clamp) = try Self.ingest(bytes, layout, norm)

        // Against the float64 oracle on the decoded values.
        #expect(s.total.count == x.count && s.nonfiniteCount == 0)
        #expect(Oracle.relErr(s.total.mean, Oracle.mean(x)) < 1e-9)
        #expect(Oracle.relErr(s.total.std!, Oracle.variance(x).squareRoot()) < 1e-9)
        #expect(s.total.min == x.min()! && s.total.max == x.max()!)
        for (m, v) in zip(s.perChannel, Oracle.channelValues(x, shape: c.shape, axis: layout.channelAxis)) {
            #expect(m.count == v.count)
            #expect(Oracle.relErr(m.mean, Oracle.mean(v)) < 1e-9)
            #expect(Oracle.relErr(m.std!, Oracle.variance(v).squareRoot()) < 1e-9)
            #expect(m.min == v.min()! && m.max == v.max()!)
        }
        let cov = Oracle.covariance(x, shape: c.shape, axis: layout.channelAxis)
        let got = s.covariance.covariance!
        let C = layout.channels
        for a in 0..<C { for b in 0..<C {
            #expect(abs(got[a * C + b] - cov[a][b]) / (cov[a][a] * cov[b][b]).squareRoot() < 1e-9)
        } }
        #expect(s.sketch == QuantileSketch(values: x))
        #expect(clamp!.elements == x.count)
        #expect(clamp!.outside == x.filter { abs(($0 - (c.offset + 0.1)) * 0.4) > 0.5 }.count)
        #expect(clamp!.absSketch == QuantileSketch(values: x.map { abs(($0 - (c.offset + 0.1)) * 0.4) }))

        // Against the general path, statistic by statistic.
        let (g, gc) = Self.ingestGeneral(x, layout, norm)
        #expect(s.sketch == g.sketch && clamp == gc)
        #expect(s.total.count == g.total.count && s.total.min == g.total.min && s.total.max == g.total.max)
        for (a, b) in [(s.total, g.total)] + Array(zip(s.perChannel, g.perChannel)) {
            #expect(abs(a.mean - b.mean) <= 1e-12 * (abs(b.mean) + b.std!))
            #expect(Oracle.relErr(a.m2, b.m2) < 1e-12)
            #expect(abs(a.m3 - b.m3) <= 1e-10 * b.m2 * b.std!)
            #expect(Oracle.relErr(a.m4, b.m4) < 1e-11)
        }
        for (a, b) in zip(s.covariance.comoment, g.covariance.comoment) { #expect(abs(a - b) <= 1e-12 * g.total.m2) }
        #expect(s.covariance.count == g.covariance.count)
        #expect(Oracle.relErr(s.sampleSpread.variances.mean, g.sampleSpread.variances.mean) < 1e-12)
        for (a, b) in zip(s.channelSpread, g.channelSpread) {
            #expect(Oracle.relErr(a.variances.mean, b.variances.mean) < 1e-12)
        }
    }

    @Test(arguments: DType.allCases)
    func samplesWithNonFiniteValuesMixWithFiniteOnes(dtype: DType) throws {
        // Samples 1 and 3 hold NaN/±inf; the others are finite and take the fast path.
        let shape = [5, 4, 6, 7]
        let layout = try TensorLayout(shape: shape, dtype: dtype)
        var raw = Oracle.latents(shape: shape, offset: 2, seed: 31)
        let per = layout.elementsPerSample
        raw[1 * per + 5] = .nan; raw[1 * per + 100] = .infinity; raw[3 * per + 7] = -.infinity
        raw[3 * per + 150] = .nan
        let (bytes, x) = Self.encode(raw, dtype)
        let norm = AffineNormalizer(channels: 4, scalingFactor: 0.5, shiftFactor: 2, range: 0.8)
        let (s, clamp) = try Self.ingest(bytes, layout, norm)
        #expect(s.nanCount == 2 && s.posInfCount == 1 && s.negInfCount == 1)
        let finite = x.filter(\.isFinite)
        #expect(s.total.count == finite.count && clamp!.elements == finite.count)
        #expect(Oracle.relErr(s.total.mean, Oracle.mean(finite)) < 1e-9)
        #expect(Oracle.relErr(s.total.std!, Oracle.variance(finite).squareRoot()) < 1e-9)
        let cov = Oracle.covariance(x, shape: shape, axis: 1)
        let got = s.covariance.covariance!
        for a in 0..<4 { for b in 0..<4 {
            #expect(abs(got[a * 4 + b] - cov[a][b]) / (cov[a][a] * cov[b][b]).squareRoot() < 1e-9)
        } }
        #expect(s.covariance.count == 5 * 42 - 4)
        #expect(s.sketch == QuantileSketch(values: x))
        #expect(clamp!.outside == finite.filter { abs(($0 - 2) * 0.5) > 0.8 }.count)
        #expect(s.sampleSpread.samples == 5)
    }

    @Test func float64BeyondFloatRangeIsCountedAsBefore() throws {
        // Finite doubles whose sum overflows take the general path and are not non-finite.
        let x: [Double] = [1.7e308, 1.7e308, -1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
        let (s, _) = try BatchSummary.of(x, shape: [1, 1, 18])
        #expect(s.nonfiniteCount == 0 && s.total.count == 18 && s.sketch.count == 18)
        #expect(s.total.max == 1.7e308 && s.total.min == -1)
    }

    @Test func denseCountsKeepsEveryBucketInOrder() {
        var rng = SplitMix64(seed: 12)
        var table = [UInt32](repeating: 0, count: 65536)
        for _ in 0..<3000 { table[Int(rng.next() % 65536)] &+= UInt32(1 + rng.next() % 5) }
        for raw in [0, 7, 8, 0x7FFF, 0x8000, 0x8007, 0xFFF8, 0xFFFF] { table[raw] = 9 }
        let sketch = table.withUnsafeBufferPointer { QuantileSketch(denseCounts: $0) }
        let want = (0..<65536).filter { table[$0] != 0 }
            .map { (QuantileSketch.orderKey(raw: $0), UInt64(table[$0])) }
            .sorted { $0.0 < $1.0 }
        #expect(sketch.keys == want.map(\.0))
        #expect(sketch.counts == want.map(\.1))
    }
}
