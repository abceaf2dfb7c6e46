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
        try layout.checkLength(bytes.count)
        if let n = normalizer { precondition(n.channels == layout.channels, "normalizer channel count differs") }
        BLASSetup.once()
        var kernel = IngestKernel(layout: layout, normalizer: normalizer)
        guard let base = bytes.baseAddress else { return kernel.finish() }
        switch layout.dtype {
        case .float32: kernel.run(base, F32Loader.self)
        case .float64: kernel.run(base, F64Loader.self)
        case .float16: kernel.run(base, F16Loader.self)
        case .bfloat16: kernel.run(base, BF16Loader.self)
        }
        return kernel.finish()
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
}

struct F32Loader: ElementLoader {
    static let size = 4
    @inline(__always) static func load(_ base: UnsafeRawPointer, _ i: Int) -> Double {
        Double(base.loadUnaligned(fromByteOffset: i &* 4, as: Float.self))
    }
}
struct F64Loader: ElementLoader {
    static let size = 8
    @inline(__always) static func load(_ base: UnsafeRawPointer, _ i: Int) -> Double {
        base.loadUnaligned(fromByteOffset: i &* 8, as: Double.self)
    }
}
struct F16Loader: ElementLoader {
    static let size = 2
    @inline(__always) static func load(_ base: UnsafeRawPointer, _ i: Int) -> Double {
        Double(HalfPrecision.float16(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))))
    }
}
struct BF16Loader: ElementLoader {
    static let size = 2
    @inline(__always) static func load(_ base: UnsafeRawPointer, _ i: Int) -> Double {
        Double(HalfPrecision.bfloat16(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))))
    }
}

/// The single pass over a tensor, one sample at a time.
///
/// Per sample: decode into a Double scratch; pass 1 takes per-channel sums,
/// min/max, non-finite counts and the sketch; pass 2 takes centred powers
/// (two-pass, so no cancellation), the clamp count, and leaves the centred
/// values in place for one `dsyrk` giving the channel co-moments. Per-sample
/// moments are then merged into the batch with Pébay/Chan updates.
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
        scratch = [Double](repeating: 0, count: perSample)
        for s in 0..<layout.samples {
            let offset = s * perSample
            scratch.withUnsafeMutableBufferPointer { buf in
                for i in 0..<perSample { buf[i] = L.load(base, offset &+ i) }
            }
            processSample()
        }
    }

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

        // Channel co-moments of this sample.
        var validPositions = positions
        var coMean = [Double](repeating: 0, count: C) // offset of the co-mean from `centre`
        if nonfinite > 0 {
            validPositions = invalidPosition.reduce(0) { $1 ? $0 : $0 + 1 }
            guard validPositions > 0 else { return }
            scratch.withUnsafeBufferPointer { x in
                for p in 0..<outer { for c in 0..<C {
                    let start = (p * C + c) * inner
                    var s = 0.0
                    for i in 0..<inner { s += x[start + i] } // invalid positions hold 0
                    coMean[c] += s
                } }
            }
            for c in 0..<C { coMean[c] /= Double(validPositions) }
        } else {
            for c in 0..<C { coMean[c] = s1[c] / Double(positions) }
        }
        syrkSample()
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
