/// The scan over a tensor, one sample at a time.
///
/// Fast path (a sample of finite values, `IngestKernel+FastPath.swift`): one
/// SIMD pass over the encoded sample for shifted power sums, extremes, both
/// sketches and the clamp count, with a `dgemm` of channel co-moments per
/// cache-sized tile. A non-finite value shows as a non-finite sum; the pass
/// is then taken back and the sample goes to the general path.
///
/// General path (samples with non-finite values, `IngestKernel+GeneralPath.swift`):
/// decode the sample into a Double scratch; pass 1 takes per-channel sums,
/// min/max, non-finite counts and the sketch; pass 2 takes centred powers,
/// the clamp count, and leaves the centred values in place for one `dsyrk`.
///
/// Either way, per-sample moments are then merged into the batch with
/// Pébay/Chan updates (``mergeSample(validPositions:)``), from the
/// workspace: the loop over samples allocates nothing.
struct IngestKernel {
    /// How a sample's elements are walked: `lines` lines of `length`
    /// positions, each line holding every channel; element (line l, channel
    /// c, position j) is at l·lineStep + c·inner + j·stride. Lines run along
    /// `inner` (contiguous) unless it is too short, as for channels-last,
    /// then along `outer`.
    struct Geometry {
        let lines, length, stride, lineStep: Int
        init(_ layout: TensorLayout) {
            let alongInner = layout.inner >= IngestKernel.minContiguousInner
            lines = alongInner ? layout.outer : layout.inner
            length = alongInner ? layout.inner : layout.outer
            stride = alongInner ? 1 : layout.channels &* layout.inner
            lineStep = alongInner ? layout.channels &* layout.inner : 1
        }
    }

    let layout: TensorLayout
    let geometry: Geometry
    let normalizer: AffineNormalizer?
    let workspace: IngestWorkspace
    /// Whether the fast path counts values instead of summing powers (`IngestKernel+Histogram.swift`).
    let histogram: Bool
    /// Whether contiguous lines of float32, bfloat16 and float16 go through
    /// the AVX2 loops (`IngestKernel+SIMD.swift`) instead of the portable ones.
    let simd: Bool
    var summary: BatchSummary
    var clamp: ClampCount?
    /// The general path's decoded sample.
    var scratch: [Double] = []
    var invalidPosition: [Bool] = []
    /// Each sample's own statistics, in order.
    var sampleStats: [SampleStat] = []
    /// The moments of the sample merged last (set by `mergeSample`).
    var lastSample = Moments.empty
    var excludeNonfinite = false
    /// Fast-path samples summed a second time about their mean (the shift was too far off).
    var resummedSamples = 0
    /// Sketch tables ``finish()`` read whole, because the part the extremes
    /// bound missed a count (none should).
    var fullTableScans = 0

    /// Positions per fast-path tile (per channel row); the tile is C × this,
    /// about 32 KiB of Doubles so it stays in L1 between the pass and its `dgemm`.
    static func tileWidth(channels: Int) -> Int { Swift.min(Swift.max(4096 / Swift.max(channels, 1), 128), 1024) }
    /// Below this `inner` (channels-last and similar layouts) the fast path
    /// runs along `outer`, striding over the channels.
    static let minContiguousInner = 16

    /// - Parameters:
    ///   - histogram: histogram mode on or off; by default
    ///     ``usesHistogram(_:)`` decides (tests set it to compare the two).
    ///   - simd: the AVX2 loops on or off; by default ``simdEnabled``
    ///     decides. On where the CPU lacks them, it is off.
    init(layout: TensorLayout, normalizer: AffineNormalizer?, histogram: Bool? = nil, simd: Bool? = nil) {
        self.layout = layout
        self.simd = (simd ?? Self.simdEnabled) && Self.simdAvailable
        self.normalizer = normalizer
        geometry = Geometry(layout)
        self.histogram = layout.dtype.size == 2 && (histogram ?? Self.usesHistogram(layout))
        workspace = IngestWorkspacePool.take(channels: layout.channels,
                                             tileWidth: Swift.min(Self.tileWidth(channels: layout.channels), geometry.length),
                                             clamp: normalizer != nil, histogram: self.histogram)
        if let normalizer {
            for c in 0..<layout.channels {
                workspace.normShift[c] = normalizer.shift[c]; workspace.normScale[c] = normalizer.scale[c]
            }
        }
        summary = BatchSummary(channels: layout.channels)
        summary.batches = 1
        summary.samples = layout.samples
        summary.elements = layout.elementCount
        clamp = normalizer.map { ClampCount(range: $0.range) }
    }

    /// ``run(_:_:)`` with the loader of the layout's dtype.
    mutating func run(_ base: UnsafeRawPointer) {
        switch layout.dtype {
        case .float32: run(base, F32Loader.self)
        case .float64: run(base, F64Loader.self)
        case .float16: run(base, F16Loader.self)
        case .bfloat16: run(base, BF16Loader.self)
        }
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

    /// Merges one sample into the summary, from the workspace: per channel
    /// its count, the shift its sums are about, Σd…Σd⁴, min and max; the
    /// co-moments about the shift over `validPositions` positions and, in
    /// `coMean`, those positions' mean offsets from the shift.
    ///
    /// Without `totals` (histogram mode's fast path), the sample's moments
    /// go to the spreads only: the batch's per-channel and total moments
    /// come from the value counts.
    mutating func mergeSample(validPositions: Int, totals: Bool = true) {
        let w = workspace, C = layout.channels
        // Per-channel central moments of this sample, from the shifted sums.
        var sampleTotal = Moments.empty
        for c in 0..<C where w.counts[c] > 0 {
            let k = Double(w.counts[c]), e = w.s1[c] / k
            let s2 = w.s2[c], s3 = w.s3[c], s4 = w.s4[c]
            let m2 = Swift.max(s2 - k * e * e, 0)
            let m3 = s3 - 3 * e * s2 + 2 * k * e * e * e
            let m4 = s4 - 4 * e * s3 + 6 * e * e * s2 - 3 * k * e * e * e * e
            let mc = Moments(count: w.counts[c], mean: w.shift[c] + e, m2: m2, m3: m3, m4: m4, min: w.lo[c], max: w.hi[c])
            if totals { summary.perChannel[c].merge(mc) }
            summary.channelSpread[c].add(sample: mc)
            sampleTotal.merge(mc)
        }
        if totals { summary.total.merge(sampleTotal) }
        summary.sampleSpread.add(sample: sampleTotal)
        lastSample = sampleTotal

        // Channel co-moments of this sample, about its own mean.
        guard validPositions > 0 else { return }
        let nv = Double(validPositions)
        for a in 0..<C {
            for b in a..<C {
                let v = w.co[a &* C &+ b] - nv * w.coMean[a] * w.coMean[b]
                w.co[a &* C &+ b] = v
                w.co[b &* C &+ a] = v
            }
        }
        for c in 0..<C { w.coMean[c] += w.shift[c] }
        summary.covariance.merge(count: validPositions, mean: UnsafePointer(w.coMean), comoment: UnsafePointer(w.co))
    }

    /// The highest raw sketch indexes of the negative and the positive values
    /// counted (nil: none of that sign), from the batch's min and max. −0 has
    /// the negative raw index 0x8000, so a minimum of zero still reads it.
    func rawBounds() -> (negative: Int?, positive: Int?) {
        let t = summary.total
        guard t.count > 0 else { return (nil, nil) }
        let negative = t.min <= 0 ? Swift.max(QuantileSketch.rawIndex(Float(t.min)), 0x8000) : nil
        let positive = t.max >= 0 ? QuantileSketch.rawIndex(Float(Swift.abs(t.max))) : nil
        return (negative, positive)
    }

    /// The highest raw index of |(v − shift)·scale| counted: that of its
    /// largest value, which a channel's min or max gives (the map is monotonic).
    func absRawBound() -> Int? {
        guard let n = normalizer else { return nil }
        var top = -1.0
        for c in 0..<layout.channels where summary.perChannel[c].count > 0 {
            let m = summary.perChannel[c]
            top = Swift.max(top, Swift.abs((m.min - n.shift[c]) * n.scale[c]), Swift.abs((m.max - n.shift[c]) * n.scale[c]))
        }
        return top >= 0 ? QuantileSketch.rawIndex(Float(top)) : nil
    }

    /// The sketch of one dense table, whose entries it sets back to zero.
    ///
    /// Only the part of the table that the extremes allow is read (after the
    /// AVX2 loops' second half is added into it there; not in histogram
    /// mode, where they do not count into it). The sketch must then hold all
    /// `expected` counts; if it ever did not, the whole table is read
    /// instead, and counted in `fullTableScans`.
    mutating func tableSketch(_ table: UnsafeMutablePointer<UInt32>, negativeThrough negative: Int?,
                              positiveThrough positive: Int?, expected: Int?) -> QuantileSketch {
        let halves = simd && !histogram
        if halves {
            if let positive { IngestWorkspace.foldHalves(table, from: 0, through: positive) }
            if let negative { IngestWorkspace.foldHalves(table, from: 0x8000, through: negative) }
        }
        let dense = UnsafeBufferPointer(start: table, count: 65536)
        var sketch = simd
            ? QuantileSketch(occupiedIn: table, negativeThrough: negative, positiveThrough: positive, scratch: workspace.occupied)
            : QuantileSketch(denseCounts: dense, through: negative, through: positive)
        if Int(sketch.count) != expected {
            fullTableScans &+= 1
            if halves { IngestWorkspace.foldHalves(table, from: 0, through: 65535) }
            sketch = QuantileSketch(denseCounts: dense)
        }
        IngestWorkspace.clear(table, entriesOf: sketch)
        return sketch
    }

    /// Completes the summary, once, and returns the workspace (its tables
    /// zeroed again) to the pool: the kernel is spent afterwards.
    ///
    /// - Parameter pool: false keeps the workspace out of the pool (a test
    ///   that inspects it afterwards, while other tests take workspaces).
    mutating func finish(pool: Bool = true) -> (BatchSummary, ClampCount?) {
        if histogram { foldHistograms() }
        let (negative, positive) = rawBounds()
        summary.sketch = tableSketch(workspace.sketch, negativeThrough: negative, positiveThrough: positive,
                                     expected: summary.total.count)
        if let a = workspace.absSketch {
            let abs = tableSketch(a, negativeThrough: nil, positiveThrough: absRawBound(), expected: clamp?.elements)
            if clamp != nil { clamp!.absSketch = abs }
        }
        if pool { IngestWorkspacePool.give(workspace) }
        return (summary, clamp)
    }
}
