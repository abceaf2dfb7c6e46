import Testing
@testable import LatentStats

/// The AVX2 loops (`IngestKernel+SIMD.swift`) against the portable loops
/// on the same bytes, and against the float64 oracle: counts, extremes,
/// sketches and clamp counts identical, moments and co-moments equal up to
/// rounding. Runs where the CPU has AVX2, FMA and F16C (the test says so
/// when it does not).
@Suite(.enabled(if: IngestKernel.simdAvailable, "this CPU lacks AVX2, FMA or F16C: only the portable loops run here"))
struct SIMDKernelTests {
    typealias Case = KernelModeTests.Case

    // Lines whose lengths leave every tail (not a multiple of 8 or of 4),
    // 1, 4, 5 and 16 channels, channels first and last (the last falls back
    // to the portable loops along strided lines), offsets 0 and 1e4.
    static let cases: [Case] = [DType.float32, .bfloat16, .float16].flatMap { dtype in
        [([3, 4, 37, 29], 1), ([2, 1, 64, 64], 1), ([2, 5, 11, 13], 1), ([2, 16, 33, 35], 1), ([2, 4, 3, 5], 1),
         ([2, 9, 9, 4], -1)].flatMap { shape, axis in
            [0.0, 1e4].map { Case(dtype: dtype, shape: shape, axis: axis, offset: $0) }
        }
    }

    static func run(_ bytes: [UInt8], _ layout: TensorLayout, _ norm: AffineNormalizer?, simd: Bool,
                    histogram: Bool = false, exclude: Bool = false) -> IngestResult {
        bytes.withUnsafeBytes {
            BatchSummary.summarize($0, layout: layout, normalizer: norm, excludeNonfinite: exclude,
                                   histogram: histogram, simd: simd)
        }
    }

    @Test(arguments: cases)
    func equalsThePortableLoopsAndTheOracle(c: Case) throws {
        let (layout, bytes, x, mid) = try c.tensor(seed: 11)
        // A range that cuts some values off (at offset 0: at 1e4, 16-bit formats keep few distinct values).
        let norm = AffineNormalizer(channels: layout.channels, scalingFactor: 0.5, shiftFactor: mid + 0.1, range: 0.7)
        let fast = Self.run(bytes, layout, norm, simd: true)
        if c.offset == 0 { #expect(fast.clamp!.outside > 0 && fast.clamp!.outside < x.count) }
        KernelModeTests.expectSame(fast, Self.run(bytes, layout, norm, simd: false))
        KernelModeTests.expectOracle(fast, x, shape: c.shape, axis: layout.channelAxis, norm: norm)
        // And without a normalizer (no clamp count, the other specialization).
        KernelModeTests.expectSame(Self.run(bytes, layout, nil, simd: true), Self.run(bytes, layout, nil, simd: false))
    }

    /// A sample with NaN or ±inf is taken back by the loops that counted it
    /// (the withdrawal must hit the same buckets) and goes to the general path.
    @Test(arguments: [DType.float32, .bfloat16, .float16], [false, true])
    func samplesWithNonFiniteValuesAreTakenBack(dtype: DType, exclude: Bool) throws {
        let shape = [4, 4, 24, 21] // the last NaN falls in a line's tail
        let (layout, bytes, x, norm) = try KernelModeTests.nonFiniteTensor(shape, dtype, seed: 12, infAt: 1000, lastNaN: true)
        let fast = Self.run(bytes, layout, norm, simd: true, exclude: exclude)
        KernelModeTests.expectSame(fast, Self.run(bytes, layout, norm, simd: false, exclude: exclude))
        if exclude {
            #expect(fast.samples.map(\.excluded) == [false, true, false, true])
        } else {
            #expect(fast.summary.nanCount == 2 && fast.summary.posInfCount == 1 && fast.summary.negInfCount == 1)
            KernelModeTests.expectOracle(fast, x, shape: shape, axis: 1, norm: norm)
        }
    }

    /// Histogram mode (16-bit tensors with many elements per channel) takes
    /// its per-sample sums through the AVX2 moments loop without Σd³, Σd⁴.
    @Test(arguments: [DType.bfloat16, .float16])
    func histogramModeEqualsThePortableLoops(dtype: DType) throws {
        let shape = [2, 4, 161, 205] // lines of 33,005: a tail of 5 after the last full tile
        let layout = try TensorLayout(shape: shape, dtype: dtype)
        #expect(IngestKernel.usesHistogram(layout))
        let (bytes, x) = IngestPathTests.encode(Oracle.latents(shape: shape, offset: 3, seed: 13), dtype)
        let norm = AffineNormalizer(channels: 4, scalingFactor: 0.6, shiftFactor: 3, range: 1)
        let fast = Self.run(bytes, layout, norm, simd: true, histogram: true)
        KernelModeTests.expectSame(fast, Self.run(bytes, layout, norm, simd: false, histogram: true))
        KernelModeTests.expectOracle(fast, x, shape: shape, axis: 1, norm: norm)
    }

    /// Signed zeros, subnormals and the largest finite values of each
    /// format land in the same buckets and extremes as on the portable loops.
    @Test(arguments: [DType.float32, .bfloat16, .float16])
    func edgeValuesLandInTheSameBuckets(dtype: DType) throws {
        let big: Double = switch dtype { case .float16: 65504; case .bfloat16: 3.3895313892515355e38; default: 3.4028234663852886e38 }
        let tiny: Double = switch dtype { case .float16: 5.960464477539063e-08; default: 1.401298464324817e-45 }
        let edges: [Double] = [0, -0.0, tiny, -tiny, big, -big, 1, -1, 0.5, -2]
        let shape = [1, 4, 20, 1]
        let layout = try TensorLayout(shape: shape, dtype: dtype)
        let raw = (0..<80).map { edges[($0 * 7) % edges.count] }
        let (bytes, _) = IngestPathTests.encode(raw, dtype)
        let norm = AffineNormalizer(channels: 4, scalingFactor: 0.25, shiftFactor: 0, range: 1)
        let fast = Self.run(bytes, layout, norm, simd: true), slow = Self.run(bytes, layout, norm, simd: false)
        #expect(fast.summary.sketch == slow.summary.sketch)
        #expect(fast.clamp == slow.clamp)
        for (a, b) in zip(fast.summary.perChannel, slow.summary.perChannel) {
            #expect(a.min == b.min && a.max == b.max && a.min.sign == b.min.sign && a.max.sign == b.max.sign)
        }
    }
}

extension SIMDKernelTests {
    /// The AVX2 loops count alternate elements in each sketch table's second
    /// half; ``IngestKernel/finish()`` must add it into the first and leave
    /// it zero, or the next ingest that takes the workspace counts stale values.
    @Test func bothHalvesOfTheSketchTablesComeBackZero() throws {
        let shape = [3, 4, 40, 50]
        let layout = try TensorLayout(shape: shape, dtype: .float32)
        let (bytes, _) = IngestPathTests.encode(Oracle.latents(shape: shape, offset: -0.5, seed: 14), .float32)
        let norm = AffineNormalizer(channels: 4, scalingFactor: 0.5, shiftFactor: 0, range: 1)
        var kernel = IngestKernel(layout: layout, normalizer: norm, histogram: false, simd: true)
        let w = kernel.workspace
        bytes.withUnsafeBytes { kernel.run($0.baseAddress!) }
        let counted = (0..<65536).reduce(0) { $0 + Int(w.sketch[65536 + $1]) }
        #expect(counted > 0, "the loops counted nothing in the second half")
        _ = kernel.finish(pool: false)
        for table in [w.sketch, w.absSketch!] {
            #expect((0..<IngestWorkspace.sketchTableCount).allSatisfy { table[$0] == 0 })
        }
    }
}
