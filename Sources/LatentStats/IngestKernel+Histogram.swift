import CIngestSIMD
/// Histogram mode, for the 16-bit formats (float16, bfloat16).
///
/// A 16-bit element has one of 65,536 values, so everything the kernel
/// counts per element — the raw sketch, the clamp count, the |normalized|
/// sketch, and the batch's per-channel moments, min and max — is a function
/// of how often each value occurs in each channel. The fast path then only
/// adds one to a per-channel count per element (``histogramLoop``) and
/// takes the per-sample sums the spreads and co-moments need
/// (``momentsLoop`` without Σd³, Σd⁴); ``foldHistograms()`` turns the counts
/// into the rest once per push: per channel, two passes over its occupied
/// values (the moments are exact two-pass moments of those values, weighted
/// by their counts), each value's buckets weighted by its count, and
/// |(v − shift)·scale| compared with the range once per value, not once per
/// element. The result is the one the per-element path gives: counts and
/// extremes identical, moments equal up to float rounding.
///
/// Used when a channel of the tensor holds at least
/// ``histogramMinPerChannel`` elements, so the per-channel tables (256 KiB
/// each) cost less than the per-element work they save.
extension IngestKernel {
    /// Elements per channel from which a 16-bit tensor is ingested in histogram mode.
    static let histogramMinPerChannel = 1 << 16

    /// Whether `layout` is ingested in histogram mode.
    static func usesHistogram(_ layout: TensorLayout) -> Bool {
        layout.dtype.size == 2 && layout.samples &* layout.positionsPerSample >= histogramMinPerChannel
            && layout.elementCount < Int(UInt32.max)
    }

    /// Adds `delta` to `counts[bits]` for the `count` 16-bit elements
    /// `start`, `start + stride`, … (2³²−1 takes a previous loop back).
    @inline(__always)
    static func histogramLoop<Contiguous: KernelFlag>(
        _ src: UnsafeRawPointer, _ start: Int, _ count: Int, stride: Int, _: Contiguous.Type,
        counts h: UnsafeMutablePointer<UInt32>, delta: UInt32
    ) {
        let step = Contiguous.on ? 1 : stride
        var p = src + start &* 2
        var j = 0
        while j &+ 4 <= count {
            let a = p.loadUnaligned(as: UInt16.self), b = p.loadUnaligned(fromByteOffset: step &* 2, as: UInt16.self)
            let c = p.loadUnaligned(fromByteOffset: step &* 4, as: UInt16.self)
            let d = p.loadUnaligned(fromByteOffset: step &* 6, as: UInt16.self)
            h[Int(a)] &+= delta; h[Int(b)] &+= delta; h[Int(c)] &+= delta; h[Int(d)] &+= delta
            p += step &* 8
            j &+= 4
        }
        while j < count {
            h[Int(p.loadUnaligned(as: UInt16.self))] &+= delta
            p += step &* 2
            j &+= 1
        }
    }

    /// Whether the `count` (a multiple of 8) counts at `p` are all zero,
    /// tested 16 bytes at a time.
    @inline(__always)
    static func zeroEntries(_ p: UnsafeMutablePointer<UInt32>, count: Int) -> Bool {
        let r = UnsafeRawPointer(p)
        var any = SIMD4<UInt32>()
        var o = 0
        while o < count &* 4 {
            any |= r.loadUnaligned(fromByteOffset: o, as: SIMD4<UInt32>.self)
                | r.loadUnaligned(fromByteOffset: o &+ 16, as: SIMD4<UInt32>.self)
            o &+= 32
        }
        return any == SIMD4<UInt32>()
    }

    /// Turns the per-channel value counts into the batch's per-channel and
    /// total moments, the raw sketch and the clamp count.
    mutating func foldHistograms() {
        guard let hist = workspace.hist else { return }
        let C = layout.channels
        let bfloat = layout.dtype == .bfloat16
        let format = bfloat ? Int32(LS_FORMAT_BF16) : Int32(LS_FORMAT_F16)   // for the C passes
        let occupied = workspace.occupied
        var total = Moments.empty
        for c in 0..<C {
            let h = hist + c &* 65536
            // Pass 1: the occupied values; count, sum, extremes, sketches, clamp.
            var used = 0, n = 0, sum = 0.0, lo = Double.infinity, hi = -Double.infinity
            var outside = 0
            let sh = normalizer?.shift[c] ?? 0, sc = normalizer?.scale[c] ?? 0, range = normalizer?.range ?? 0
            if simd {
                // The occupied values by one AVX2 scan, and both passes in C
                // (`Sources/CIngestSIMD`): the same counts, sketches and
                // extremes, the power sums up to rounding.
                used = ls_occupied(h, 0, 65536, occupied)
                let r: ls_fold
                if let a = workspace.absSketch {
                    var terms = ls_clamp(shift: sh, scale: sc, range: range, abs_sketch: a)
                    r = ls_fold_values(format, h, occupied, used, workspace.sketch, &terms)
                } else {
                    r = ls_fold_values(format, h, occupied, used, workspace.sketch, nil)
                }
                (n, outside, sum, lo, hi) = (Int(r.n), Int(r.outside), r.sum, r.min, r.max)
            } else {
                @inline(__always) func visit(_ i: Int) {
                    let k = Int(h[i])
                    let f = bfloat ? HalfPrecision.bfloat16(UInt16(i)) : HalfPrecision.float16(UInt16(i))
                    let v = Double(f)
                    n &+= k; sum += Double(k) * v
                    lo = v < lo ? v : lo; hi = v > hi ? v : hi
                    workspace.sketch[QuantileSketch.rawIndex(f)] &+= UInt32(k)
                    if let a = workspace.absSketch {
                        let y = Swift.abs((v - sh) * sc)
                        if y > range { outside &+= k }
                        a[QuantileSketch.rawIndex(Float(y))] &+= UInt32(k)
                    }
                }
                var b = 0
                while b < 65536 {
                    // Most of the table is zeros: 32 entries (128 bytes) are
                    // tested at a time, then 8, before any is looked at.
                    if b & 31 == 0 && Self.zeroEntries(h + b, count: 32) {
                        b &+= 32
                        continue
                    }
                    if Self.zeroEntries(h + b, count: 8) {
                        b &+= 8
                        continue
                    }
                    for i in b..<(b &+ 8) where h[i] != 0 {
                        occupied[used] = UInt16(i); used &+= 1
                        visit(i)
                    }
                    b &+= 8
                }
            }
            guard n > 0 else { continue }
            if clamp != nil { clamp!.outside += outside; clamp!.elements += n }
            // Pass 2: centred power sums over the occupied values.
            let mean = sum / Double(n)
            var s1 = 0.0, s2 = 0.0, s3 = 0.0, s4 = 0.0
            if simd {
                let p = ls_fold_powers(format, h, occupied, used, mean)
                (s1, s2, s3, s4) = (p.s1, p.s2, p.s3, p.s4)
            } else {
                for u in 0..<used {
                    let i = Int(occupied[u]), k = Double(h[i])
                    let v = Double(bfloat ? HalfPrecision.bfloat16(UInt16(i)) : HalfPrecision.float16(UInt16(i)))
                    let d = v - mean, d2 = d * d
                    s1 += k * d; s2 += k * d2; s3 += k * d2 * d; s4 += k * d2 * d2
                    h[i] = 0 // the workspace goes back to the pool zeroed
                }
            }
            let kn = Double(n), e = s1 / kn
            let m = Moments(count: n, mean: mean + e, m2: Swift.max(s2 - kn * e * e, 0),
                            m3: s3 - 3 * e * s2 + 2 * kn * e * e * e,
                            m4: s4 - 4 * e * s3 + 6 * e * e * s2 - 3 * kn * e * e * e * e, min: lo, max: hi)
            summary.perChannel[c].merge(m)
            total.merge(m)
        }
        summary.total.merge(total)
    }
}
