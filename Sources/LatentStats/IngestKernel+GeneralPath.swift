import CBLAS

/// The general path: a sample holding NaN or ±inf (or finite float64 values
/// whose powers overflow), decoded into `scratch` first.
extension IngestKernel {
    /// Processes the sample held in `scratch`.
    mutating func processSample() {
        let C = layout.channels, outer = layout.outer, inner = layout.inner
        let w = workspace
        var n = [Int](repeating: 0, count: C)
        var sum = [Double](repeating: 0, count: C)
        var mn = [Double](repeating: .infinity, count: C)
        var mx = [Double](repeating: -.infinity, count: C)
        var nan = 0, pinf = 0, ninf = 0

        // Pass 1.
        scratch.withUnsafeBufferPointer { x in
            let table = w.sketch
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
                    if let norm = normalizer, let table = w.absSketch {
                        let sh = norm.shift[c], sc = norm.scale[c], r = norm.range
                        for i in start..<(start &+ inner) {
                            let v = x[i]
                            guard v.isFinite else { continue }
                            let y = Swift.abs((v - sh) * sc)
                            if y > r { outside &+= 1 }
                            counted &+= 1
                            table[QuantileSketch.rawIndex(Float(y))] &+= 1
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
        for c in 0..<C {
            w.counts[c] = n[c]; w.shift[c] = centre[c]
            w.s1[c] = s1[c]; w.s2[c] = s2[c]; w.s3[c] = s3[c]; w.s4[c] = s4[c]
            w.lo[c] = mn[c]; w.hi[c] = mx[c]; w.coMean[c] = coMean[c]
        }
        mergeSample(validPositions: validPositions)
    }

    /// The workspace's co-moments := Σ d dᵀ over the positions of the centred
    /// sample in `scratch` (upper triangle).
    func syrkSample() {
        let C = Int32(layout.channels), outer = layout.outer, inner = layout.inner
        let co = workspace.co
        scratch.withUnsafeBufferPointer { x in
            if inner == 1 {
                // Each sample is an (outer × C) row-major matrix: positions are rows.
                cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, C, Int32(outer), 1.0,
                            x.baseAddress, C, 0.0, co, C)
            } else {
                for p in 0..<outer {
                    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, C, Int32(inner), 1.0,
                                x.baseAddress! + p * Int(C) * inner, Int32(inner),
                                p == 0 ? 0.0 : 1.0, co, C)
                }
            }
        }
    }
}
