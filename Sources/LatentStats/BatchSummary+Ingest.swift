import CBLAS

extension BatchSummary {
    /// Summarizes one C-contiguous little-endian tensor.
    ///
    /// - Parameters:
    ///   - bytes: the tensor's raw bytes; any alignment.
    ///   - layout: its validated geometry; `bytes.count` must equal `layout.byteCount`.
    ///   - normalizer: when given, the normalized values are also counted
    ///     against its range (see ``ClampCount``).
    /// - Returns: the summary and, with a normalizer, the clamp count.
    public static func ingest(
        bytes: UnsafeRawBufferPointer, layout: TensorLayout, normalizer: AffineNormalizer? = nil
    ) throws(TensorError) -> (BatchSummary, ClampCount?) {
        let r = try ingestSamples(bytes: bytes, layout: layout, normalizer: normalizer)
        return (r.summary, r.clamp)
    }

    /// Like ``ingest(bytes:layout:normalizer:)``, also returning each
    /// sample's own mean, std and non-finite count (for the outlier check).
    ///
    /// With `excludeNonfiniteSamples`, a sample holding any NaN or ±inf
    /// leaves the summary entirely (its samples, elements, non-finite
    /// counts, moments, sketch and clamp count); it is still listed in
    /// `samples` with `excluded` set.
    public static func ingestSamples(
        bytes: UnsafeRawBufferPointer, layout: TensorLayout, normalizer: AffineNormalizer? = nil,
        excludeNonfiniteSamples: Bool = false
    ) throws(TensorError) -> IngestResult {
        try layout.checkLength(bytes.count)
        if let n = normalizer { precondition(n.channels == layout.channels, "normalizer channel count differs") }
        BLASSetup.once()
        var kernel = IngestKernel(layout: layout, normalizer: normalizer)
        kernel.excludeNonfinite = excludeNonfiniteSamples
        guard let base = bytes.baseAddress else {
            let (s, c) = kernel.finish()
            return IngestResult(summary: s, clamp: c, samples: kernel.sampleStats)
        }
        switch layout.dtype {
        case .float32: kernel.run(base, F32Loader.self)
        case .float64: kernel.run(base, F64Loader.self)
        case .float16: kernel.run(base, F16Loader.self)
        case .bfloat16: kernel.run(base, BF16Loader.self)
        }
        let (s, c) = kernel.finish()
        return IngestResult(summary: s, clamp: c, samples: kernel.sampleStats)
    }

    /// ``ingestSamples(bytes:layout:normalizer:excludeNonfiniteSamples:)`` over an array of Doubles.
    public static func samplesOf(_ values: [Double], shape: [Int], channelAxis: Int = 1, normalizer: AffineNormalizer? = nil,
                                 excludeNonfiniteSamples: Bool = false) throws(TensorError) -> IngestResult {
        let layout = try TensorLayout(shape: shape, dtype: .float64, channelAxis: channelAxis)
        do {
            return try values.withUnsafeBytes {
                try ingestSamples(bytes: $0, layout: layout, normalizer: normalizer, excludeNonfiniteSamples: excludeNonfiniteSamples)
            }
        } catch let e as TensorError { throw e } catch { fatalError("unreachable") }
    }

    /// Convenience for tests and tools: summarizes an array of Doubles of the given shape.
    public static func of(_ values: [Double], shape: [Int], channelAxis: Int = 1,
                          normalizer: AffineNormalizer? = nil) throws(TensorError) -> (BatchSummary, ClampCount?) {
        let layout = try TensorLayout(shape: shape, dtype: .float64, channelAxis: channelAxis)
        do {
            return try values.withUnsafeBytes { try ingest(bytes: $0, layout: layout, normalizer: normalizer) }
        } catch let e as TensorError { throw e } catch { fatalError("unreachable") }
    }
}

enum BLASSetup {
    /// One thread: the matrices are small and the daemon parallelizes across pushes.
    static let token: Void = { openblas_set_num_threads(1) }()
    static func once() { _ = token }
}

protocol ElementLoader {
    static var size: Int { get }
    static func load(_ base: UnsafeRawPointer, _ index: Int) -> Double
    /// The element as a Double and, for a finite element, its raw sketch
    /// index: `QuantileSketch.rawIndex(Float(value))`, taken from the bits when
    /// the format allows.
    static func loadIndexed(_ base: UnsafeRawPointer, _ index: Int) -> (Double, Int)
}

struct F32Loader: ElementLoader {
    static let size = 4
    @inline(__always) static func load(_ base: UnsafeRawPointer, _ i: Int) -> Double {
        Double(Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self))))
    }
    @inline(__always) static func loadIndexed(_ base: UnsafeRawPointer, _ i: Int) -> (Double, Int) {
        let bits = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self))
        return (Double(Float(bitPattern: bits)), Int(truncatingIfNeeded: bits &>> 16))
    }
}
struct F64Loader: ElementLoader {
    static let size = 8
    @inline(__always) static func load(_ base: UnsafeRawPointer, _ i: Int) -> Double {
        Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i &* 8, as: UInt64.self)))
    }
    @inline(__always) static func loadIndexed(_ base: UnsafeRawPointer, _ i: Int) -> (Double, Int) {
        let v = load(base, i)
        return (v, QuantileSketch.rawIndex(Float(v)))
    }
}
struct F16Loader: ElementLoader {
    static let size = 2
    @inline(__always) static func load(_ base: UnsafeRawPointer, _ i: Int) -> Double {
        Double(HalfPrecision.float16(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))))
    }
    @inline(__always) static func loadIndexed(_ base: UnsafeRawPointer, _ i: Int) -> (Double, Int) {
        let f = HalfPrecision.float16(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self)))
        return (Double(f), QuantileSketch.rawIndex(f))
    }
}
struct BF16Loader: ElementLoader {
    static let size = 2
    @inline(__always) static func load(_ base: UnsafeRawPointer, _ i: Int) -> Double {
        Double(HalfPrecision.bfloat16(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))))
    }
    @inline(__always) static func loadIndexed(_ base: UnsafeRawPointer, _ i: Int) -> (Double, Int) {
        let bits = UInt16(littleEndian: base.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))
        return (Double(HalfPrecision.bfloat16(bits)), Int(bits)) // bfloat16 bits are the top half of the binary32
    }
}

/// The scan over a tensor, one sample at a time.
///
/// Fast path (a sample of finite values): pass 1 reads the
/// encoded sample for per-channel sums, min and max; a non-finite value
/// shows as a non-finite sum, and the sample then goes to the general path.
/// Pass 2 re-reads it tile by tile (a few hundred positions × all channels,
/// kept in cache): centred powers (two-pass, so no cancellation), both
/// sketches, the clamp count, and the centred tile's channel co-moments.
///
/// General path (samples with non-finite values): decode the sample
/// into a Double scratch; pass 1 takes per-channel sums, min/max, non-finite
/// counts and the sketch; pass 2 takes centred powers, the clamp count, and
/// leaves the centred values in place for one `dsyrk`.
///
/// Either way, per-sample moments are then merged into the batch with
/// Pébay/Chan updates.
struct IngestKernel {
    let layout: TensorLayout
    let normalizer: AffineNormalizer?
    var summary: BatchSummary
    var clamp: ClampCount?
    var scratch: [Double]
    var sketchTable: [UInt32]
    var absTable: [UInt32]
    var invalidPosition: [Bool]
    var sampleCo: [Double]
    /// Each sample's own statistics, in order.
    var sampleStats: [SampleStat] = []
    /// The moments of the sample merged last (set by `mergeSample`).
    var lastSample = Moments.empty
    var excludeNonfinite = false

    /// Positions per fast-path tile (per channel row); the tile is C × this,
    /// about 32 KiB of Doubles so it stays in L1 between the two loops over it.
    static func tileWidth(channels: Int) -> Int { Swift.min(Swift.max(4096 / Swift.max(channels, 1), 128), 1024) }
    /// Below this `inner` (channels-last and similar layouts) the fast path
    /// runs along `outer`, striding over the channels.
    static let minContiguousInner = 16

    init(layout: TensorLayout, normalizer: AffineNormalizer?) {
        self.layout = layout
        self.normalizer = normalizer
        summary = BatchSummary(channels: layout.channels)
        summary.batches = 1
        summary.samples = layout.samples
        summary.elements = layout.elementCount
        clamp = normalizer.map { ClampCount(range: $0.range) }
        scratch = []
        sketchTable = [UInt32](repeating: 0, count: 65536)
        absTable = normalizer == nil ? [] : [UInt32](repeating: 0, count: 65536)
        invalidPosition = []
        sampleCo = [Double](repeating: 0, count: layout.channels * layout.channels)
    }

    mutating func run<L: ElementLoader>(_ base: UnsafeRawPointer, _: L.Type) {
        let perSample = layout.elementsPerSample
        sampleStats.reserveCapacity(layout.samples)
        for s in 0..<layout.samples {
            let sample = base + s &* perSample &* L.size
            lastSample = .empty
            if processFinite(sample, L.self) {
                sampleStats.append(SampleStat(lastSample, nan: 0, inf: 0, excluded: false))
                continue
            }
            if scratch.count != perSample { scratch = [Double](repeating: 0, count: perSample) }
            scratch.withUnsafeMutableBufferPointer { buf in
                for i in 0..<perSample { buf[i] = L.load(sample, i) }
            }
            if excludeNonfinite {
                var finite = Moments.empty, nan = 0, inf = 0
                for v in scratch { if v.isFinite { finite.add(v) } else if v.isNaN { nan &+= 1 } else { inf &+= 1 } }
                if nan + inf > 0 {
                    summary.samples -= 1
                    summary.elements -= perSample
                    sampleStats.append(SampleStat(finite, nan: nan, inf: inf, excluded: true))
                    continue
                }
            }
            let nanBefore = summary.nanCount, infBefore = summary.posInfCount + summary.negInfCount
            processSample()
            sampleStats.append(SampleStat(lastSample, nan: summary.nanCount - nanBefore,
                                          inf: summary.posInfCount + summary.negInfCount - infBefore, excluded: false))
        }
    }

    // MARK: Fast path

    /// Pass 1 over the `count` encoded elements `start`, `start + stride`, …:
    /// sum, min, max. Four accumulators each, so the adds do not wait on one another.
    @inline(__always)
    static func scan<L: ElementLoader>(_ src: UnsafeRawPointer, _ start: Int, _ count: Int, stride: Int, _: L.Type)
        -> (sum: Double, min: Double, max: Double) {
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
        var lo0 = Double.infinity, lo1 = lo0, lo2 = lo0, lo3 = lo0
        var hi0 = -Double.infinity, hi1 = hi0, hi2 = hi0, hi3 = hi0
        var j = 0
        let count4 = count & ~3
        while j < count4 {
            let i = start &+ j &* stride
            let v0 = L.load(src, i), v1 = L.load(src, i &+ stride)
            let v2 = L.load(src, i &+ 2 &* stride), v3 = L.load(src, i &+ 3 &* stride)
            s0 += v0; s1 += v1; s2 += v2; s3 += v3
            lo0 = v0 < lo0 ? v0 : lo0; lo1 = v1 < lo1 ? v1 : lo1
            lo2 = v2 < lo2 ? v2 : lo2; lo3 = v3 < lo3 ? v3 : lo3
            hi0 = v0 > hi0 ? v0 : hi0; hi1 = v1 > hi1 ? v1 : hi1
            hi2 = v2 > hi2 ? v2 : hi2; hi3 = v3 > hi3 ? v3 : hi3
            j &+= 4
        }
        while j < count {
            let v = L.load(src, start &+ j &* stride)
            s0 += v; lo0 = v < lo0 ? v : lo0; hi0 = v > hi0 ? v : hi0
            j &+= 1
        }
        lo0 = lo1 < lo0 ? lo1 : lo0; lo2 = lo3 < lo2 ? lo3 : lo2
        hi0 = hi1 > hi0 ? hi1 : hi0; hi2 = hi3 > hi2 ? hi3 : hi2
        return ((s0 + s1) + (s2 + s3), lo2 < lo0 ? lo2 : lo0, hi2 > hi0 ? hi2 : hi0)
    }

    /// Pass 2 over the `count` finite encoded elements `start`, `start + stride`,
    /// …: writes the values centred on `m` to `out` (contiguous), counts them in `sketch` and, when
    /// `clamp` is on, counts |(v − shift)·scale| against `range` and in
    /// `absSketch`. Returns Σd, Σd², Σd³, Σd⁴ and the count outside the range.
    @inline(__always)
    static func centre<L: ElementLoader>(
        _ src: UnsafeRawPointer, _ start: Int, _ count: Int, stride: Int, _: L.Type, mean m: Double,
        out: UnsafeMutablePointer<Double>, sketch: UnsafeMutablePointer<UInt32>,
        clamp: Bool, shift sh: Double, scale sc: Double, range r: Double, absSketch: UnsafeMutablePointer<UInt32>?
    ) -> (Double, Double, Double, Double, Int) {
        var a1 = 0.0, a2 = 0.0, a3 = 0.0, a4 = 0.0
        var b1 = 0.0, b2 = 0.0, b3 = 0.0, b4 = 0.0
        var outside = 0
        var j = 0
        let count2 = count & ~1
        while j < count2 {
            let (v0, k0) = L.loadIndexed(src, start &+ j &* stride)
            let (v1, k1) = L.loadIndexed(src, start &+ (j &+ 1) &* stride)
            let d0 = v0 - m, d1 = v1 - m
            let e0 = d0 * d0, e1 = d1 * d1
            a1 += d0; a2 += e0; a3 += e0 * d0; a4 += e0 * e0
            b1 += d1; b2 += e1; b3 += e1 * d1; b4 += e1 * e1
            out[j] = d0; out[j &+ 1] = d1
            sketch[k0] &+= 1; sketch[k1] &+= 1
            if clamp {
                let y0 = Swift.abs((v0 - sh) * sc), y1 = Swift.abs((v1 - sh) * sc)
                outside &+= (y0 > r ? 1 : 0) &+ (y1 > r ? 1 : 0)
                absSketch![QuantileSketch.rawIndex(Float(y0))] &+= 1
                absSketch![QuantileSketch.rawIndex(Float(y1))] &+= 1
            }
            j &+= 2
        }
        if j < count {
            let (v, k) = L.loadIndexed(src, start &+ j &* stride)
            let d = v - m, e = d * d
            a1 += d; a2 += e; a3 += e * d; a4 += e * e
            out[j] = d
            sketch[k] &+= 1
            if clamp {
                let y = Swift.abs((v - sh) * sc)
                outside &+= y > r ? 1 : 0
                absSketch![QuantileSketch.rawIndex(Float(y))] &+= 1
            }
        }
        return (a1 + b1, a2 + b2, a3 + b3, a4 + b4, outside)
    }

    /// co += X·Xᵀ for a C × t row-major tile X of centred values: the tile's
    /// channel co-moments. `dgemm` on short tiles beats `dsyrk` here: OpenBLAS
    /// packs and blocks a tall-thin `dsyrk` poorly, and the C×C result is tiny.
    static func addComoments(_ x: UnsafePointer<Double>, channels C: Int, width t: Int, into co: UnsafeMutablePointer<Double>) {
        if C == 1 {
            var s0 = 0.0, s1 = 0.0
            var j = 0
            while j &+ 1 < t { s0 += x[j] * x[j]; s1 += x[j &+ 1] * x[j &+ 1]; j &+= 2 }
            if j < t { s0 += x[j] * x[j] }
            co[0] += s0 + s1
        } else {
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(C), Int32(C), Int32(t), 1.0,
                        x, Int32(t), x, Int32(t), 1.0, co, Int32(C))
        }
    }

    /// Processes one sample straight from its encoded bytes when every value
    /// is finite. Returns false, having changed nothing, when it is not.
    mutating func processFinite<L: ElementLoader>(_ src: UnsafeRawPointer, _: L.Type) -> Bool {
        let C = layout.channels, outer = layout.outer, inner = layout.inner

        // A sample is `lines` lines of `length` positions, each line holding
        // every channel: element (line l, channel c, position j) is at
        // base(l) + c·inner + j·stride. Lines run along `inner` (contiguous)
        // unless it is too short, as for channels-last, then along `outer`.
        let alongInner = inner >= Self.minContiguousInner
        let lines = alongInner ? outer : inner, length = alongInner ? inner : outer
        let stride = alongInner ? 1 : C &* inner, lineStep = alongInner ? C &* inner : 1

        // Pass 1.
        var sum = [Double](repeating: 0, count: C)
        var mn = [Double](repeating: .infinity, count: C)
        var mx = [Double](repeating: -.infinity, count: C)
        for l in 0..<lines {
            for c in 0..<C {
                let start = l &* lineStep &+ c &* inner
                let r = stride == 1
                    ? Self.scan(src, start, length, stride: 1, L.self)
                    : Self.scan(src, start, length, stride: stride, L.self)
                sum[c] += r.sum
                mn[c] = r.min < mn[c] ? r.min : mn[c]
                mx[c] = r.max > mx[c] ? r.max : mx[c]
            }
        }
        // NaN or ±inf anywhere makes its channel's sum NaN or infinite. (So
        // does overflow of finite float64 values; the general path copes.)
        for c in 0..<C where !sum[c].isFinite { return false }

        let perChannel = outer &* inner
        var centre = [Double](repeating: 0, count: C)
        for c in 0..<C { centre[c] = sum[c] / Double(perChannel) }

        // Pass 2, tile by tile: a tile is up to `width` positions of one line.
        var s1 = [Double](repeating: 0, count: C), s2 = s1, s3 = s1, s4 = s1
        var outside = 0
        let width = Swift.min(Self.tileWidth(channels: C), length)
        if scratch.count < C &* width { scratch = [Double](repeating: 0, count: C &* width) }
        for i in 0..<(C &* C) { sampleCo[i] = 0 }
        let norm = normalizer
        let shift = norm?.shift ?? [], scale = norm?.scale ?? [], range = norm?.range ?? 0
        scratch.withUnsafeMutableBufferPointer { tileBuf in
            sketchTable.withUnsafeMutableBufferPointer { sketch in
                absTable.withUnsafeMutableBufferPointer { absSketch in
                    sampleCo.withUnsafeMutableBufferPointer { co in
                        let tile = tileBuf.baseAddress!, table = sketch.baseAddress!, absTable = absSketch.baseAddress
                        for l in 0..<lines {
                            var j0 = 0
                            while j0 < length {
                                let t = Swift.min(width, length &- j0)
                                for c in 0..<C {
                                    let start = l &* lineStep &+ c &* inner &+ j0 &* stride
                                    let out = tile + c &* t, m = centre[c]
                                    let r = switch (norm != nil, stride == 1) {
                                    case (false, true):
                                        Self.centre(src, start, t, stride: 1, L.self, mean: m, out: out, sketch: table,
                                                    clamp: false, shift: 0, scale: 0, range: 0, absSketch: nil)
                                    case (false, false):
                                        Self.centre(src, start, t, stride: stride, L.self, mean: m, out: out, sketch: table,
                                                    clamp: false, shift: 0, scale: 0, range: 0, absSketch: nil)
                                    case (true, true):
                                        Self.centre(src, start, t, stride: 1, L.self, mean: m, out: out, sketch: table,
                                                    clamp: true, shift: shift[c], scale: scale[c], range: range,
                                                    absSketch: absTable)
                                    case (true, false):
                                        Self.centre(src, start, t, stride: stride, L.self, mean: m, out: out, sketch: table,
                                                    clamp: true, shift: shift[c], scale: scale[c], range: range,
                                                    absSketch: absTable)
                                    }
                                    s1[c] += r.0; s2[c] += r.1; s3[c] += r.2; s4[c] += r.3
                                    outside &+= r.4
                                }
                                Self.addComoments(UnsafePointer(tile), channels: C, width: t, into: co.baseAddress!)
                                j0 &+= t
                            }
                        }
                    }
                }
            }
        }
        if clamp != nil { clamp!.outside += outside; clamp!.elements += C &* perChannel }

        let n = [Int](repeating: perChannel, count: C)
        var coMean = [Double](repeating: 0, count: C)
        for c in 0..<C { coMean[c] = s1[c] / Double(perChannel) }
        mergeSample(n: n, centre: centre, s1: s1, s2: s2, s3: s3, s4: s4, min: mn, max: mx,
                    validPositions: perChannel, coMean: coMean)
        return true
    }

    /// Merges one sample's per-channel centred sums and co-moments (in
    /// `sampleCo`, upper triangle, about `centre`) into the summary.
    mutating func mergeSample(n: [Int], centre: [Double], s1: [Double], s2: [Double], s3: [Double], s4: [Double],
                              min mn: [Double], max mx: [Double], validPositions: Int, coMean: [Double]) {
        let C = layout.channels
        // Per-channel moments of this sample, corrected for the centre's rounding.
        var sampleTotal = Moments.empty
        for c in 0..<C where n[c] > 0 {
            let k = Double(n[c]), e = s1[c] / k
            let m2 = Swift.max(s2[c] - k * e * e, 0)
            let m3 = s3[c] - 3 * e * s2[c] + 2 * k * e * e * e
            let m4 = s4[c] - 4 * e * s3[c] + 6 * e * e * s2[c] - 3 * k * e * e * e * e
            let mc = Moments(count: n[c], mean: centre[c] + e, m2: m2, m3: m3, m4: m4, min: mn[c], max: mx[c])
            summary.perChannel[c].merge(mc)
            summary.channelSpread[c].add(sample: mc)
            sampleTotal.merge(mc)
        }
        summary.total.merge(sampleTotal)
        summary.sampleSpread.add(sample: sampleTotal)
        lastSample = sampleTotal

        // Channel co-moments of this sample.
        guard validPositions > 0 else { return }
        let nv = Double(validPositions)
        for a in 0..<C {
            for b in a..<C {
                let v = sampleCo[a * C + b] - nv * coMean[a] * coMean[b]
                sampleCo[a * C + b] = v
                sampleCo[b * C + a] = v
            }
        }
        let means = (0..<C).map { centre[$0] + coMean[$0] }
        summary.covariance.merge(ChannelCovariance(channels: C, count: validPositions, mean: means, comoment: sampleCo))
    }

    // MARK: General path

    /// Processes the sample held in `scratch`.
    mutating func processSample() {
        let C = layout.channels, outer = layout.outer, inner = layout.inner
        var n = [Int](repeating: 0, count: C)
        var sum = [Double](repeating: 0, count: C)
        var mn = [Double](repeating: .infinity, count: C)
        var mx = [Double](repeating: -.infinity, count: C)
        var nan = 0, pinf = 0, ninf = 0

        // Pass 1.
        scratch.withUnsafeBufferPointer { x in
            sketchTable.withUnsafeMutableBufferPointer { table in
                for p in 0..<outer {
                    for c in 0..<C {
                        let start = (p &* C &+ c) &* inner
                        var s = 0.0, lo = mn[c], hi = mx[c], k = 0
                        for i in start..<(start &+ inner) {
                            let v = x[i]
                            if v.isFinite {
                                s += v; k &+= 1
                                lo = v < lo ? v : lo
                                hi = v > hi ? v : hi
                                table[QuantileSketch.rawIndex(Float(v))] &+= 1
                            } else if v.isNaN { nan &+= 1 } else if v > 0 { pinf &+= 1 } else { ninf &+= 1 }
                        }
                        sum[c] += s; n[c] &+= k; mn[c] = lo; mx[c] = hi
                    }
                }
            }
        }
        let nonfinite = nan + pinf + ninf
        summary.nanCount += nan; summary.posInfCount += pinf; summary.negInfCount += ninf
        var centre = [Double](repeating: 0, count: C)
        for c in 0..<C where n[c] > 0 { centre[c] = sum[c] / Double(n[c]) }

        // Positions with any non-finite channel are left out of the covariance.
        let positions = layout.positionsPerSample
        if nonfinite > 0 {
            invalidPosition = [Bool](repeating: false, count: positions)
            scratch.withUnsafeBufferPointer { x in
                for p in 0..<outer { for c in 0..<C {
                    let start = (p * C + c) * inner
                    for i in 0..<inner where !x[start + i].isFinite { invalidPosition[p * inner + i] = true }
                } }
            }
        }

        // Pass 2: centred powers, clamp count, centred values left in place.
        var s1 = [Double](repeating: 0, count: C), s2 = s1, s3 = s1, s4 = s1
        var outside = 0, counted = 0
        scratch.withUnsafeMutableBufferPointer { x in
            for p in 0..<outer {
                for c in 0..<C {
                    let start = (p &* C &+ c) &* inner
                    let m = centre[c]
                    var a1 = 0.0, a2 = 0.0, a3 = 0.0, a4 = 0.0
                    if let norm = normalizer {
                        let sh = norm.shift[c], sc = norm.scale[c], r = norm.range
                        absTable.withUnsafeMutableBufferPointer { table in
                            for i in start..<(start &+ inner) {
                                let v = x[i]
                                guard v.isFinite else { continue }
                                let y = Swift.abs((v - sh) * sc)
                                if y > r { outside &+= 1 }
                                counted &+= 1
                                table[QuantileSketch.rawIndex(Float(y))] &+= 1
                            }
                        }
                    }
                    if nonfinite == 0 {
                        for i in start..<(start &+ inner) {
                            let d = x[i] - m, d2 = d * d
                            a1 += d; a2 += d2; a3 += d2 * d; a4 += d2 * d2
                            x[i] = d
                        }
                    } else {
                        for i in start..<(start &+ inner) {
                            let v = x[i]
                            if v.isFinite {
                                let d = v - m, d2 = d * d
                                a1 += d; a2 += d2; a3 += d2 * d; a4 += d2 * d2
                                x[i] = invalidPosition[p &* inner &+ i &- start] ? 0 : d
                            } else {
                                x[i] = 0
                            }
                        }
                    }
                    s1[c] += a1; s2[c] += a2; s3[c] += a3; s4[c] += a4
                }
            }
        }
        if clamp != nil { clamp!.outside += outside; clamp!.elements += counted }

        // Channel co-moments of this sample.
        var validPositions = positions
        var coMean = [Double](repeating: 0, count: C) // offset of the co-mean from `centre`
        if nonfinite > 0 {
            validPositions = invalidPosition.reduce(0) { $1 ? $0 : $0 + 1 }
            if validPositions > 0 {
                scratch.withUnsafeBufferPointer { x in
                    for p in 0..<outer { for c in 0..<C {
                        let start = (p * C + c) * inner
                        var s = 0.0
                        for i in 0..<inner { s += x[start + i] } // invalid positions hold 0
                        coMean[c] += s
                    } }
                }
                for c in 0..<C { coMean[c] /= Double(validPositions) }
            }
        } else {
            for c in 0..<C { coMean[c] = s1[c] / Double(positions) }
        }
        if validPositions > 0 { syrkSample() }
        mergeSample(n: n, centre: centre, s1: s1, s2: s2, s3: s3, s4: s4, min: mn, max: mx,
                    validPositions: validPositions, coMean: coMean)
    }

    /// sampleCo := Σ d dᵀ over the positions of the centred sample in `scratch` (upper triangle).
    mutating func syrkSample() {
        let C = Int32(layout.channels), outer = layout.outer, inner = layout.inner
        scratch.withUnsafeBufferPointer { x in
            sampleCo.withUnsafeMutableBufferPointer { co in
                if inner == 1 {
                    // Each sample is an (outer × C) row-major matrix: positions are rows.
                    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, C, Int32(outer), 1.0,
                                x.baseAddress, C, 0.0, co.baseAddress, C)
                } else {
                    for p in 0..<outer {
                        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, C, Int32(inner), 1.0,
                                    x.baseAddress! + p * Int(C) * inner, Int32(inner),
                                    p == 0 ? 0.0 : 1.0, co.baseAddress, C)
                    }
                }
            }
        }
    }

    mutating func finish() -> (BatchSummary, ClampCount?) {
        summary.sketch = sketchTable.withUnsafeBufferPointer { QuantileSketch(denseCounts: $0) }
        if clamp != nil {
            clamp!.absSketch = absTable.withUnsafeBufferPointer { QuantileSketch(denseCounts: $0) }
        }
        return (summary, clamp)
    }
}
