import Foundation
import Testing
@testable import LatentStats

/// The kernel's modes and the concurrent ingest, each pinned to the float64
/// oracle and to the plain per-element path: histogram mode (16-bit
/// tensors), the second pass about the mean when a channel's shift is far
/// from it, the workspace pool, and chunks summarized concurrently.
@Suite struct KernelModeTests {
    static func summarize(_ bytes: [UInt8], _ layout: TensorLayout, _ norm: AffineNormalizer?,
                          histogram: Bool? = nil, exclude: Bool = false) -> IngestResult {
        bytes.withUnsafeBytes {
            BatchSummary.summarize($0, layout: layout, normalizer: norm, excludeNonfinite: exclude, histogram: histogram)
        }
    }

    /// Statistic by statistic: counts, extremes, sketches and clamp counts
    /// identical; moments, spreads and co-moments equal up to rounding.
    static func expectSame(_ a: IngestResult, _ b: IngestResult, tolerance: Double = 1e-12,
                           sourceLocation: SourceLocation = #_sourceLocation) {
        let s = a.summary, g = b.summary
        #expect(s.batches == g.batches && s.samples == g.samples && s.elements == g.elements, sourceLocation: sourceLocation)
        #expect(s.nanCount == g.nanCount && s.posInfCount == g.posInfCount && s.negInfCount == g.negInfCount,
                sourceLocation: sourceLocation)
        #expect(s.sketch == g.sketch, sourceLocation: sourceLocation)
        #expect(a.clamp == b.clamp, sourceLocation: sourceLocation)
        for (x, y) in [(s.total, g.total)] + Array(zip(s.perChannel, g.perChannel)) {
            #expect(x.count == y.count && x.min == y.min && x.max == y.max, sourceLocation: sourceLocation)
            guard let sd = y.std, sd > 0 else { continue }
            #expect(abs(x.mean - y.mean) <= tolerance * (abs(y.mean) + sd), sourceLocation: sourceLocation)
            #expect(Oracle.relErr(x.m2, y.m2) < tolerance, sourceLocation: sourceLocation)
            #expect(abs(x.m3 - y.m3) <= 100 * tolerance * y.m2 * sd, sourceLocation: sourceLocation)
            #expect(Oracle.relErr(x.m4, y.m4) < 10 * tolerance, sourceLocation: sourceLocation)
        }
        #expect(s.covariance.count == g.covariance.count, sourceLocation: sourceLocation)
        let scale = g.total.m2
        for (x, y) in zip(s.covariance.comoment, g.covariance.comoment) {
            #expect(abs(x - y) <= tolerance * scale, sourceLocation: sourceLocation)
        }
        for (x, y) in [(s.sampleSpread, g.sampleSpread)] + Array(zip(s.channelSpread, g.channelSpread)) {
            #expect(x.samples == y.samples, sourceLocation: sourceLocation)
            #expect(Oracle.relErr(x.variances.mean, y.variances.mean) < tolerance, sourceLocation: sourceLocation)
            #expect(abs(x.means.mean - y.means.mean) <= tolerance * (abs(y.means.mean) + 1), sourceLocation: sourceLocation)
        }
        #expect(a.samples.count == b.samples.count, sourceLocation: sourceLocation)
        for (x, y) in zip(a.samples, b.samples) {
            #expect(x.nan == y.nan && x.inf == y.inf && x.excluded == y.excluded, sourceLocation: sourceLocation)
            if let xm = x.mean, let ym = y.mean, let ys = y.std {
                #expect(abs(xm - ym) <= tolerance * (abs(ym) + ys), sourceLocation: sourceLocation)
                #expect(Oracle.relErr(x.std!, ys) < tolerance, sourceLocation: sourceLocation)
            } else {
                #expect(x.mean == nil && y.mean == nil, sourceLocation: sourceLocation)
            }
        }
    }

    /// Checks a summary against the float64 oracle on the decoded values.
    static func expectOracle(_ r: IngestResult, _ x: [Double], shape: [Int], axis: Int, norm: AffineNormalizer,
                             sourceLocation: SourceLocation = #_sourceLocation) {
        let s = r.summary
        let finite = x.filter(\.isFinite)
        #expect(s.total.count == finite.count, sourceLocation: sourceLocation)
        #expect(Oracle.relErr(s.total.mean, Oracle.mean(finite)) < 1e-9, sourceLocation: sourceLocation)
        #expect(Oracle.relErr(s.total.variance!, Oracle.variance(finite)) < 1e-9, sourceLocation: sourceLocation)
        #expect(Oracle.relErr(s.total.m4 / Double(s.total.count), Oracle.centralMoment(finite, 4)) < 1e-9,
                sourceLocation: sourceLocation)
        #expect(s.total.min == finite.min()! && s.total.max == finite.max()!, sourceLocation: sourceLocation)
        for (m, v) in zip(s.perChannel, Oracle.channelValues(x, shape: shape, axis: axis)) {
            #expect(Oracle.relErr(m.mean, Oracle.mean(v)) < 1e-9 || abs(m.mean - Oracle.mean(v)) < 1e-9 * Oracle.variance(v).squareRoot(),
                    sourceLocation: sourceLocation)
            #expect(Oracle.relErr(m.variance!, Oracle.variance(v)) < 1e-9, sourceLocation: sourceLocation)
            #expect(m.min == v.min()! && m.max == v.max()!, sourceLocation: sourceLocation)
        }
        #expect(s.sketch == QuantileSketch(values: x), sourceLocation: sourceLocation)
        let ys = finite.map { abs(($0 - norm.shift[0]) * norm.scale[0]) }
        #expect(r.clamp!.elements == finite.count, sourceLocation: sourceLocation)
        #expect(r.clamp!.outside == ys.filter { $0 > norm.range }.count, sourceLocation: sourceLocation)
        #expect(r.clamp!.absSketch == QuantileSketch(values: ys), sourceLocation: sourceLocation)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let dtype: DType; let shape: [Int]; let axis: Int; let offset: Double
        var testDescription: String { "\(dtype) \(shape) axis \(axis) offset \(offset)" }

        /// The case's latents, encoded and decoded, and the centre of their
        /// values (float16 data is scaled by 1/4 at offset 1e4: it tops out at 65504).
        func tensor(seed: UInt64) throws -> (layout: TensorLayout, bytes: [UInt8], values: [Double], mid: Double) {
            let layout = try TensorLayout(shape: shape, dtype: dtype, channelAxis: axis)
            var raw = Oracle.latents(shape: shape, axis: layout.channelAxis, offset: offset, seed: seed)
            let quarter = dtype == .float16 && offset > 0
            if quarter { raw = raw.map { $0 / 4 } }
            let (bytes, x) = IngestPathTests.encode(raw, dtype)
            return (layout, bytes, x, quarter ? offset / 4 : offset)
        }
    }

    // 16-bit tensors with at least 65,536 elements per channel (histogram
    // mode by default), channels first and last, offsets 0 and 1e4.
    static let histogramCases: [Case] = [DType.bfloat16, .float16].flatMap { dtype in
        [([2, 4, 160, 256], 1), ([8, 96, 96, 4], -1), ([1, 1, 300, 300], 1)].flatMap { shape, axis in
            [0.0, 1e4].map { Case(dtype: dtype, shape: shape, axis: axis, offset: $0) }
        }
    }

    @Test(arguments: histogramCases)
    func histogramModeEqualsThePerElementPathAndTheOracle(c: Case) throws {
        let (layout, bytes, x, mid) = try c.tensor(seed: 7)
        #expect(IngestKernel.usesHistogram(layout))
        let norm = AffineNormalizer(channels: layout.channels, scalingFactor: 0.4, shiftFactor: mid + 0.1, range: 0.5)
        let counted = Self.summarize(bytes, layout, norm, histogram: true)
        let perElement = Self.summarize(bytes, layout, norm, histogram: false)
        Self.expectSame(counted, perElement)
        Self.expectOracle(counted, x, shape: c.shape, axis: layout.channelAxis, norm: norm)
    }

    /// Four samples of four channels, the second holding a NaN and +inf, the
    /// fourth −inf (and, with `lastNaN`, a NaN as its very last element),
    /// and the normalizer their tests use.
    static func nonFiniteTensor(_ shape: [Int], _ dtype: DType, seed: UInt64, infAt: Int, lastNaN: Bool = false) throws
        -> (layout: TensorLayout, bytes: [UInt8], values: [Double], norm: AffineNormalizer) {
        let layout = try TensorLayout(shape: shape, dtype: dtype)
        var raw = Oracle.latents(shape: shape, offset: 1, seed: seed)
        let per = layout.elementsPerSample
        raw[1 * per + 77] = .nan; raw[1 * per + infAt] = .infinity; raw[3 * per + 5] = -.infinity
        if lastNaN { raw[3 * per + per - 1] = .nan }
        let (bytes, x) = IngestPathTests.encode(raw, dtype)
        return (layout, bytes, x, AffineNormalizer(channels: 4, scalingFactor: 0.5, shiftFactor: 1, range: 0.8))
    }

    @Test(arguments: [DType.bfloat16, .float16], [false, true])
    func histogramModeTakesBackSamplesWithNonFiniteValues(dtype: DType, exclude: Bool) throws {
        let shape = [4, 4, 128, 160]
        let (layout, bytes, x, norm) = try Self.nonFiniteTensor(shape, dtype, seed: 8, infAt: 9000)
        let counted = Self.summarize(bytes, layout, norm, histogram: true, exclude: exclude)
        Self.expectSame(counted, Self.summarize(bytes, layout, norm, histogram: false, exclude: exclude))
        if exclude {
            #expect(counted.summary.samples == 2 && counted.summary.nonfiniteCount == 0)
            #expect(counted.samples.map(\.excluded) == [false, true, false, true])
        } else {
            #expect(counted.summary.nanCount == 1 && counted.summary.posInfCount == 1 && counted.summary.negInfCount == 1)
            Self.expectOracle(counted, x, shape: shape, axis: 1, norm: norm)
        }
    }

    @Test(arguments: DType.allCases)
    func aShiftFarFromTheMeanIsSummedAgain(dtype: DType) throws {
        // Each channel's first eight values sit 1e3 std above the rest: the
        // shift (their mean) is far from the channel's mean, so the sample
        // must be summed again about its mean to stay at 1e-9.
        let shape = [3, 4, 64, 64]
        let layout = try TensorLayout(shape: shape, dtype: dtype)
        var raw = Oracle.latents(shape: shape, offset: 2, scale: 0.01, seed: 9)
        for s in 0..<3 { for c in 0..<4 { for j in 0..<8 { raw[(s * 4 + c) * 4096 + j] = 12 + Double(j) } } }
        let (bytes, x) = IngestPathTests.encode(raw, dtype)
        let norm = AffineNormalizer(channels: 4, scalingFactor: 0.5, shiftFactor: 2, range: 0.01)
        var kernel = IngestKernel(layout: layout, normalizer: norm, histogram: false)
        bytes.withUnsafeBytes { kernel.run($0.baseAddress!) }
        #expect(kernel.resummedSamples == 3)
        let (s, clamp) = kernel.finish()
        Self.expectOracle(IngestResult(summary: s, clamp: clamp, samples: kernel.sampleStats), x, shape: shape, axis: 1, norm: norm)
        // Ordinary latents keep their one pass.
        var plain = IngestKernel(layout: layout, normalizer: norm, histogram: false)
        let (ordinary, _) = IngestPathTests.encode(Oracle.latents(shape: shape, offset: 1e4, seed: 10), dtype == .float16 ? .float32 : dtype)
        let layout2 = try TensorLayout(shape: shape, dtype: dtype == .float16 ? .float32 : dtype)
        plain = IngestKernel(layout: layout2, normalizer: norm, histogram: false)
        ordinary.withUnsafeBytes { plain.run($0.baseAddress!) }
        #expect(plain.resummedSamples == 0)
        _ = plain.finish()
    }

    /// A kernel run over `bytes`, finished.
    static func runKernel(_ bytes: [UInt8], _ layout: TensorLayout, _ norm: AffineNormalizer, histogram: Bool?,
                          exclude: Bool) -> (IngestKernel, BatchSummary, ClampCount?) {
        var kernel = IngestKernel(layout: layout, normalizer: norm, histogram: histogram)
        kernel.excludeNonfinite = exclude
        bytes.withUnsafeBytes { kernel.run($0.baseAddress!) }
        let (s, c) = kernel.finish()
        return (kernel, s, c)
    }

    /// ``IngestKernel/finish()`` reads only the part of each sketch table that
    /// the batch's extremes allow. For data of one sign, of both, with +0 and
    /// −0, beyond float32's range, with NaN samples kept or excluded, and in
    /// histogram mode, the bound never misses a count (no full scan was
    /// needed) and both sketches equal those of the decoded values.
    @Test(arguments: DType.allCases)
    func sketchTablesAreReadOnlyWhereTheExtremesAllow(dtype: DType) throws {
        let small = [3, 2, 8, 8], big = [1, 2, 256, 256]
        var cases: [(String, [Int], [Double], Bool?, Bool)] = []
        for (name, offset) in [("mixed", 0.0), ("positive", 40.0), ("negative", -40.0)] {
            cases.append((name, small, Oracle.latents(shape: small, offset: offset, seed: 3), nil, false))
        }
        var zeros = Oracle.latents(shape: small, offset: 0, seed: 4)
        for i in 0..<zeros.count where i % 3 == 0 { zeros[i] = i % 2 == 0 ? 0.0 : -0.0 }
        cases.append(("zeros", small, zeros, nil, false))
        var onlyNegZero = Oracle.latents(shape: small, offset: 30, seed: 5)
        onlyNegZero[5] = -0.0   // min is −0: its raw index is the negative 0x8000
        cases.append(("positive and -0", small, onlyNegZero, nil, false))
        var withNaN = Oracle.latents(shape: small, offset: -3, seed: 6)
        withNaN[70] = .nan; withNaN[71] = -.infinity
        cases.append(("nan kept", small, withNaN, nil, false))
        cases.append(("nan excluded", small, withNaN, nil, true))
        if dtype == .float64 {
            var huge = Oracle.latents(shape: small, offset: 0, seed: 7)
            huge[3] = 1e39; huge[9] = -1e39   // beyond float32: the ±inf buckets
            cases.append(("beyond float32", small, huge, nil, false))
        }
        if dtype.size == 2 {
            cases.append(("histogram", big, Oracle.latents(shape: big, offset: 0.5, seed: 8), true, false))
            cases.append(("histogram negative", big, Oracle.latents(shape: big, offset: -20, seed: 9), true, false))
        }
        for (name, shape, raw, histogram, exclude) in cases {
            let layout = try TensorLayout(shape: shape, dtype: dtype)
            let (bytes, x) = IngestPathTests.encode(raw, dtype)
            let norm = AffineNormalizer(latentsMean: [0.5, -1], latentsStd: [2, 3], scalingFactor: 0.7, range: 1)
            let (kernel, s, clamp) = Self.runKernel(bytes, layout, norm, histogram: histogram, exclude: exclude)
            #expect(kernel.fullTableScans == 0, "\(dtype) \(name)")
            // The values counted: every finite one, less the samples excluded.
            let perSample = layout.elementsPerSample, plane = layout.positionsPerSample
            var values: [Double] = [], ys: [Double] = []
            for sample in 0..<layout.samples {
                let xs = x[(sample * perSample)..<((sample + 1) * perSample)]
                if exclude && xs.contains(where: { !$0.isFinite }) { continue }
                for (i, v) in xs.enumerated() where v.isFinite {
                    let c = i / plane
                    values.append(v); ys.append(abs((v - norm.shift[c]) * norm.scale[c]))
                }
            }
            #expect(s.sketch == QuantileSketch(values: values), "\(dtype) \(name)")
            #expect(clamp?.absSketch == QuantileSketch(values: ys), "\(dtype) \(name)")
        }
    }

    @Test func reusedWorkspacesStartFromZero() throws {
        // Ingests of other shapes and dtypes between two ingests of the same
        // tensor: the pool's workspaces must come back clean.
        let shape = [2, 4, 128, 256]
        let first = try TensorLayout(shape: shape, dtype: .bfloat16)
        let (bytes, _) = IngestPathTests.encode(Oracle.latents(shape: shape, seed: 11), .bfloat16)
        let norm = AffineNormalizer(channels: 4, scalingFactor: 0.5, shiftFactor: 0.1, range: 1)
        let before = Self.summarize(bytes, first, norm)
        for dtype in [DType.bfloat16, .float32, .float16] {
            let (other, _) = IngestPathTests.encode(Oracle.latents(shape: shape, offset: 3, seed: 12), dtype)
            _ = Self.summarize(other, try TensorLayout(shape: shape, dtype: dtype), norm)
            _ = Self.summarize(other, try TensorLayout(shape: shape, dtype: dtype), nil)
        }
        let after = Self.summarize(bytes, first, norm)
        #expect(before.summary == after.summary && before.clamp == after.clamp && before.samples == after.samples)
    }

    static let concurrentCases: [Case] = DType.allCases.flatMap { dtype in
        [([7, 4, 96, 96], 1), ([6, 96, 96, 4], -1), ([9, 16, 33, 65], 1), ([1, 4, 256, 256], 1)].map {
            Case(dtype: dtype, shape: $0.0, axis: $0.1, offset: 5)
        }
    }

    @Test(arguments: concurrentCases)
    func concurrentChunksEqualTheSerialIngest(c: Case) async throws {
        let layout = try TensorLayout(shape: c.shape, dtype: c.dtype, channelAxis: c.axis)
        var raw = Oracle.latents(shape: c.shape, axis: layout.channelAxis, offset: c.offset, seed: 13)
        if layout.samples > 2 { raw[2 * layout.elementsPerSample + 3] = .nan }
        let (bytes, _) = IngestPathTests.encode(raw, c.dtype)
        let norm = AffineNormalizer(channels: layout.channels, scalingFactor: 0.5, shiftFactor: 5, range: 1)
        for exclude in [false, true] {
            let serial = Self.summarize(bytes, layout, norm, exclude: exclude)
            let chunks = BatchSummary.chunkCount(layout: layout, concurrency: 3)
            #expect(chunks == (layout.samples == 1 ? 1 : 3))
            let concurrent = try await BatchSummary.ingestSamples(bytes, layout: layout, normalizer: norm,
                                                                  excludeNonfiniteSamples: exclude, concurrency: 3)
            Self.expectSame(concurrent, serial)
        }
        // With a prefix before the tensor (an .npy header, say).
        let prefixed = [UInt8](repeating: 0xAB, count: 128) + bytes
        let shifted = try await BatchSummary.ingestSamples(prefixed, offset: 128, layout: layout, normalizer: norm, concurrency: 2)
        Self.expectSame(shifted, Self.summarize(bytes, layout, norm))
    }

    @Test func concurrentIngestChecksTheLength() async throws {
        let layout = try TensorLayout(shape: [4, 4, 64, 64], dtype: .float32)
        await #expect(throws: TensorError.self) {
            try await BatchSummary.ingestSamples([UInt8](repeating: 0, count: 100), layout: layout, concurrency: 2)
        }
    }
}
