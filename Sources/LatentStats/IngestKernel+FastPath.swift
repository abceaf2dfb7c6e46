import CBLAS
import CIngestSIMD

/// A compile-time switch: each combination of the kernel's options is its
/// own specialization, so the loops carry no tests of them.
protocol KernelFlag { static var on: Bool { get } }
enum FlagOn: KernelFlag { static var on: Bool { true } }
enum FlagOff: KernelFlag { static var on: Bool { false } }

/// The clamp count's per-channel terms: y = |(v − shift)·scale| against `range`.
struct ClampTerms {
    let shift: Double
    let scale: Double
    let range: Double
    let absSketch: UnsafeMutablePointer<UInt32>
}

/// The one-pass fast path (samples of finite values).
///
/// Each segment of a channel (up to a tile's width of positions) is read
/// by two loops, four elements at a time (SIMD loads and conversion to
/// `SIMD4<Double>`): ``momentsLoop`` takes the shifted power sums and writes
/// the shifted values to a tile; ``countsLoop`` re-reads the segment (now in
/// L1) for min and max, the raw-value sketch, the clamp count and the
/// |normalized| sketch, branch-free (the comparison is a lane mask, the
/// sketches are indexed increments). Two loops, because one would need more
/// than the 16 vector registers of baseline x86-64 and spill its
/// accumulators. The tile of C × ``IngestKernel/tileWidth(channels:)``
/// shifted values then gives the channel co-moments: by ``addComoments4``
/// for four channels (the common VAE), else one `dgemm`.
///
/// The sums are taken about a per-channel shift k (the mean of the channel's
/// first few values) rather than the exact mean, so one pass is enough. The
/// central moments then follow exactly from the shifted sums
/// (``IngestKernel/mergeSample(validPositions:)``); their rounding error grows
/// with (mean − k)/std, so a sample where that exceeds
/// ``IngestKernel/maxShiftInStds`` is summed again about its mean (only its
/// moments: the sketches and clamp count do not depend on the shift).
extension IngestKernel {
    /// Beyond this many standard deviations between a channel's shift and
    /// its mean, the sample's moments are summed again about the mean; up
    /// to it, the fourth central moment's relative rounding error stays
    /// below 3·8⁴·2⁻⁵² ≈ 3·10⁻¹² (the accuracy target is 10⁻⁹).
    static let maxShiftInStds = 8.0
    /// Values averaged for a channel's shift.
    static let shiftSampleCount = 8

    /// Σd, Σd², Σd³, Σd⁴ (d = v − k; the last two only with `Higher`) over
    /// the `count` elements `start`, `start + stride`, …, writing each d to
    /// `out` (contiguous).
    @inline(__always)
    static func momentsLoop<L: ElementLoader, Contiguous: KernelFlag, Higher: KernelFlag>(
        _ src: UnsafeRawPointer, _ start: Int, _ count: Int, stride: Int, _: L.Type, _: Contiguous.Type, _: Higher.Type,
        shift k: Double, out: UnsafeMutablePointer<Double>
    ) -> (Double, Double, Double, Double) {
        var a1 = SIMD4<Double>(), a2 = a1, a3 = a1, a4 = a1
        let kk = SIMD4<Double>(repeating: k)
        let rawOut = UnsafeMutableRawPointer(out)
        var j = 0
        let count4 = count & ~3
        while j < count4 {
            let i = start &+ j &* stride
            let (v, _) = Contiguous.on ? L.load4(src, i) : L.load4(src, i, stride: stride)
            let d = v - kk, d2 = d * d
            a1 += d; a2 += d2
            if Higher.on { a3 += d2 * d; a4 += d2 * d2 }
            rawOut.storeBytes(of: d, toByteOffset: j &* 8, as: SIMD4<Double>.self)
            j &+= 4
        }
        var s1 = (a1[0] + a1[1]) + (a1[2] + a1[3]), s2 = (a2[0] + a2[1]) + (a2[2] + a2[3])
        var s3 = (a3[0] + a3[1]) + (a3[2] + a3[3]), s4 = (a4[0] + a4[1]) + (a4[2] + a4[3])
        while j < count {
            let d = L.load(src, start &+ j &* stride) - k, d2 = d * d
            s1 += d; s2 += d2
            if Higher.on { s3 += d2 * d; s4 += d2 * d2 }
            out[j] = d
            j &+= 1
        }
        return (s1, s2, s3, s4)
    }

    /// Over the same elements: min and max, `delta` added to each value's
    /// raw sketch bucket (2³²−1 takes a previous loop back) and, with
    /// `Clamped`, the count of |(v − shift)·scale| > range with `delta`
    /// added to each |normalized| bucket.
    @inline(__always)
    static func countsLoop<L: ElementLoader, Contiguous: KernelFlag, Clamped: KernelFlag>(
        _ src: UnsafeRawPointer, _ start: Int, _ count: Int, stride: Int, _: L.Type, _: Contiguous.Type, _: Clamped.Type,
        sketch t: UnsafeMutablePointer<UInt32>, delta: UInt32, clamp: ClampTerms
    ) -> (min: Double, max: Double, outside: Int) {
        var lo = SIMD4<Double>(repeating: .infinity), hi = SIMD4<Double>(repeating: -.infinity)
        var flo = SIMD4<Float>(repeating: .infinity), fhi = SIMD4<Float>(repeating: -.infinity)
        var outs = SIMD4<Int64>()
        let sh = SIMD4<Double>(repeating: clamp.shift), sc = SIMD4<Double>(repeating: clamp.scale)
        let rr = SIMD4<Double>(repeating: clamp.range)
        let signless = SIMD4<UInt64>(repeating: ~(1 << 63))
        let a = clamp.absSketch
        var j = 0
        let count4 = count & ~3
        while j < count4 {
            let i = start &+ j &* stride
            let (v, keys) = Contiguous.on ? L.load4(src, i) : L.load4(src, i, stride: stride)
            if L.narrow && Contiguous.on {
                let f = L.loadFloat4(src, i)
                flo = lanewiseMin(flo, f); fhi = lanewiseMax(fhi, f)
            } else {
                lo = lanewiseMin(lo, v); hi = lanewiseMax(hi, v)
            }
            t[Int(keys[0])] &+= delta; t[Int(keys[1])] &+= delta
            t[Int(keys[2])] &+= delta; t[Int(keys[3])] &+= delta
            if Clamped.on {
                let y = unsafeBitCast(unsafeBitCast((v - sh) * sc, to: SIMD4<UInt64>.self) & signless, to: SIMD4<Double>.self)
                outs &-= unsafeBitCast(y .> rr, to: SIMD4<Int64>.self) // a true lane is −1
                let yk = rawIndexes(SIMD4<Float>(y))
                a[Int(yk[0])] &+= delta; a[Int(yk[1])] &+= delta
                a[Int(yk[2])] &+= delta; a[Int(yk[3])] &+= delta
            }
            j &+= 4
        }
        var mn = Swift.min(lo.min(), Double(flo.min())), mx = Swift.max(hi.max(), Double(fhi.max()))
        var outside = Int(outs.wrappedSum())
        while j < count {
            let (v, key) = L.loadIndexed(src, start &+ j &* stride)
            mn = v < mn ? v : mn; mx = v > mx ? v : mx
            t[key] &+= delta
            if Clamped.on {
                let y = Swift.abs((v - clamp.shift) * clamp.scale)
                outside &+= y > clamp.range ? 1 : 0
                a[QuantileSketch.rawIndex(Float(y))] &+= delta
            }
            j &+= 1
        }
        return (mn, mx, outside)
    }

    /// What a sweep over a sample does.
    enum Sweep {
        /// Sums, sketch and (with a normalizer) clamp count: the first pass.
        case full
        /// Sums only, about a better shift: the rare second pass.
        case momentsOnly
        /// Takes the sketch and clamp increments of a `full` sweep back.
        case withdraw
    }

    /// One sweep over the sample at `src`, line by line and tile by tile,
    /// every channel of a tile, then the tile's co-moments. Sums go to the
    /// workspace (about `workspace.shift`); returns the clamp count's outside elements.
    func sweep<L: ElementLoader>(_ src: UnsafeRawPointer, _: L.Type, _ kind: Sweep) -> Int {
        let w = workspace
        let C = layout.channels, g = geometry
        let clampOn = normalizer != nil && kind != .momentsOnly
        let range = normalizer?.range ?? 0
        if kind != .withdraw { w.clearSums() }
        if kind == .full { w.clearExtremes() }
        var outside = 0
        let width = Swift.min(Self.tileWidth(channels: C), g.length)
        for l in 0..<g.lines {
            var j0 = 0
            while j0 < g.length {
                let t = Swift.min(width, g.length &- j0)
                for c in 0..<C {
                    let start = l &* g.lineStep &+ c &* layout.inner &+ j0 &* g.stride
                    let out = w.tile + c &* t, k = w.shift[c]
                    let ct = ClampTerms(shift: w.normShift[c], scale: w.normScale[c], range: range,
                                        absSketch: w.absSketch ?? w.sketch)
                    let contiguous = g.stride == 1
                    let format = simd && contiguous ? L.simdFormat : nil
                    // Histogram mode's counts, taken by the AVX2 moments loop on a full sweep.
                    let counting = format != nil && kind == .full ? w.hist.map { $0 + c &* 65536 } : nil
                    if kind != .withdraw {
                        let (s1, s2, s3, s4) = if let format {
                            if let counting {
                                Self.simdCountingMoments(format, src + start &* L.size, t, shift: k, out: out, counts: counting)
                            } else {
                                Self.simdMoments(format, src + start &* L.size, t, higher: !histogram, shift: k, out: out)
                            }
                        } else {
                            switch (contiguous, histogram) {
                        case (true, false):
                            Self.momentsLoop(src, start, t, stride: 1, L.self, FlagOn.self, FlagOn.self, shift: k, out: out)
                        case (false, false):
                            Self.momentsLoop(src, start, t, stride: g.stride, L.self, FlagOff.self, FlagOn.self, shift: k, out: out)
                        case (true, true):
                            Self.momentsLoop(src, start, t, stride: 1, L.self, FlagOn.self, FlagOff.self, shift: k, out: out)
                        case (false, true):
                            Self.momentsLoop(src, start, t, stride: g.stride, L.self, FlagOff.self, FlagOff.self, shift: k, out: out)
                            }
                        }
                        w.s1[c] += s1; w.s2[c] += s2; w.s3[c] += s3; w.s4[c] += s4
                    }
                    if kind != .momentsOnly {
                        let delta: UInt32 = kind == .withdraw ? .max : 1
                        if let h = w.hist {
                            guard counting == nil else { continue } // counted with the sums
                            if contiguous {
                                Self.histogramLoop(src, start, t, stride: 1, FlagOn.self, counts: h + c &* 65536, delta: delta)
                            } else {
                                Self.histogramLoop(src, start, t, stride: g.stride, FlagOff.self, counts: h + c &* 65536, delta: delta)
                            }
                            continue
                        }
                        if let format {
                            let r = Self.simdCounts(format, src + start &* L.size, t, sketch: w.sketch, delta: delta,
                                                    clamp: clampOn ? ct : nil)
                            w.lo[c] = Swift.min(w.lo[c], r.min); w.hi[c] = Swift.max(w.hi[c], r.max)
                            outside &+= r.outside
                            continue
                        }
                        let r = switch (contiguous, clampOn) {
                        case (true, true): Self.countsLoop(src, start, t, stride: 1, L.self, FlagOn.self, FlagOn.self,
                                                           sketch: w.sketch, delta: delta, clamp: ct)
                        case (true, false): Self.countsLoop(src, start, t, stride: 1, L.self, FlagOn.self, FlagOff.self,
                                                            sketch: w.sketch, delta: delta, clamp: ct)
                        case (false, true): Self.countsLoop(src, start, t, stride: g.stride, L.self, FlagOff.self, FlagOn.self,
                                                            sketch: w.sketch, delta: delta, clamp: ct)
                        case (false, false): Self.countsLoop(src, start, t, stride: g.stride, L.self, FlagOff.self, FlagOff.self,
                                                             sketch: w.sketch, delta: delta, clamp: ct)
                        }
                        w.lo[c] = Swift.min(w.lo[c], r.min); w.hi[c] = Swift.max(w.hi[c], r.max)
                        outside &+= r.outside
                    }
                }
                if kind != .withdraw { Self.addComoments(w.tile, channels: C, width: t, into: w.co, simd: simd) }
                j0 &+= t
            }
        }
        if kind != .withdraw && C == 4 { for c in 0..<4 { w.co[c &* 5] = w.s2[c] } }
        return outside
    }

    /// co += X·Xᵀ for a C × t row-major tile X of shifted values: the tile's
    /// channel co-moments. `dgemm` on short tiles beats `dsyrk` here: OpenBLAS
    /// packs and blocks a tall-thin `dsyrk` poorly, and the C×C result is tiny.
    static func addComoments(_ x: UnsafePointer<Double>, channels C: Int, width t: Int, into co: UnsafeMutablePointer<Double>,
                             simd: Bool) {
        if C == 1 { co[0] += cblas_ddot(Int32(t), x, 1, x, 1); return }
        if C == 4 {
            if simd { ls_comoments4(x, t, co) } else { addComoments4(x, width: t, into: co) }
            return
        }
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(C), Int32(C), Int32(t), 1.0,
                    x, Int32(t), x, Int32(t), 1.0, co, Int32(C))
    }

    /// The six off-diagonal co-moments of a 4 × t tile, two positions at a
    /// time with every product in a register (the diagonal is Σd², which
    /// the moments loop already has). Four channels are too few for `dgemm`
    /// to pay for packing its operands.
    static func addComoments4(_ x: UnsafePointer<Double>, width t: Int, into co: UnsafeMutablePointer<Double>) {
        let r0 = UnsafeRawPointer(x), r1 = UnsafeRawPointer(x + t), r2 = UnsafeRawPointer(x + 2 &* t), r3 = UnsafeRawPointer(x + 3 &* t)
        var p01 = SIMD2<Double>(), p02 = p01, p03 = p01, p12 = p01, p13 = p01, p23 = p01
        var j = 0
        while j &+ 2 <= t {
            let o = j &* 8
            let a = r0.loadUnaligned(fromByteOffset: o, as: SIMD2<Double>.self)
            let b = r1.loadUnaligned(fromByteOffset: o, as: SIMD2<Double>.self)
            let c = r2.loadUnaligned(fromByteOffset: o, as: SIMD2<Double>.self)
            let d = r3.loadUnaligned(fromByteOffset: o, as: SIMD2<Double>.self)
            p01 += a * b; p02 += a * c; p03 += a * d
            p12 += b * c; p13 += b * d; p23 += c * d
            j &+= 2
        }
        var s01 = p01.sum(), s02 = p02.sum(), s03 = p03.sum(), s12 = p12.sum(), s13 = p13.sum(), s23 = p23.sum()
        if j < t {
            let a = x[j], b = x[t &+ j], c = x[2 &* t &+ j], d = x[3 &* t &+ j]
            s01 += a * b; s02 += a * c; s03 += a * d; s12 += b * c; s13 += b * d; s23 += c * d
        }
        co[1] += s01; co[2] += s02; co[3] += s03; co[6] += s12; co[7] += s13; co[11] += s23
    }

    /// Processes one sample straight from its encoded bytes when every value
    /// is finite. Returns false, having changed nothing, when it is not.
    mutating func processFinite<L: ElementLoader>(_ src: UnsafeRawPointer, _: L.Type) -> Bool {
        let w = workspace, C = layout.channels, g = geometry
        let n = Double(layout.positionsPerSample)

        // Each channel's shift: the mean of its first few values.
        let m = Swift.min(Self.shiftSampleCount, g.length)
        for c in 0..<C {
            var s = 0.0
            for j in 0..<m { s += L.load(src, c &* layout.inner &+ j &* g.stride) }
            w.shift[c] = s / Double(m)
        }
        let outside = sweep(src, L.self, .full)

        // NaN or ±inf anywhere makes its channel's sums non-finite. (So does
        // overflow of finite float64 values; the general path copes.)
        for c in 0..<C where !(w.s1[c].isFinite && w.s2[c].isFinite && w.s3[c].isFinite && w.s4[c].isFinite) {
            _ = sweep(src, L.self, .withdraw)
            return false
        }
        var again = false
        for c in 0..<C {
            let e = w.s1[c] / n, v = w.s2[c] / n - e * e
            if !(e * e <= Self.maxShiftInStds * Self.maxShiftInStds * v) && e != 0 { again = true }
        }
        if again {
            resummedSamples &+= 1
            for c in 0..<C { w.shift[c] += w.s1[c] / n }
            _ = sweep(src, L.self, .momentsOnly)
        }
        // (In histogram mode the clamp count and the batch's moments come from the counts.)
        if clamp != nil && !histogram { clamp!.outside += outside; clamp!.elements += layout.elementsPerSample }
        for c in 0..<C { w.counts[c] = layout.positionsPerSample; w.coMean[c] = w.s1[c] / n }
        mergeSample(validPositions: layout.positionsPerSample, totals: !histogram)
        return true
    }
}

/// Lane-wise min and max written so that they compile to `minpd`/`maxpd`
/// (`minps`/`maxps` for Float lanes): `pointwiseMin` is not inlined, and a
/// mask-select becomes a blend.
@inline(__always)
func lanewiseMin<T: SIMDScalar & Comparable>(_ a: SIMD4<T>, _ b: SIMD4<T>) -> SIMD4<T> {
    SIMD4(Swift.min(a[0], b[0]), Swift.min(a[1], b[1]), Swift.min(a[2], b[2]), Swift.min(a[3], b[3]))
}

@inline(__always)
func lanewiseMax<T: SIMDScalar & Comparable>(_ a: SIMD4<T>, _ b: SIMD4<T>) -> SIMD4<T> {
    SIMD4(Swift.max(a[0], b[0]), Swift.max(a[1], b[1]), Swift.max(a[2], b[2]), Swift.max(a[3], b[3]))
}
