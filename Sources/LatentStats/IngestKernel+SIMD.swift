import CIngestSIMD
import Foundation

/// The AVX2 loops (`Sources/CIngestSIMD`), chosen at run time.
///
/// Baseline x86-64 has 128-bit vectors only, so the portable loops hold four
/// Doubles in two registers and pay two instructions per operation, with no
/// fused multiply-add. Swift cannot compile one function for a wider ISA
/// without building the whole library for it (a CPU flag, which a versioned
/// dependency cannot carry and which would stop the binary on older CPUs),
/// so the three inner loops are also written in C with per-function target
/// attributes, and used where the CPU reports AVX2, FMA and F16C and the OS
/// saves the YMM registers. They compute what the portable loops compute:
/// counts, extremes and the clamp count identically (the same arithmetic,
/// unfused), the power sums and co-moments up to rounding. Strided lines
/// (channels-last) and float64 stay on the portable loops.
///
/// `LATENTSCALE_KERNEL=portable` in the environment turns them off (to
/// compare, or to rule them out).
extension IngestKernel {
    /// Whether this CPU and OS can run the AVX2 loops.
    static let simdAvailable = ls_simd_available() != 0

    /// Whether kernels use the AVX2 loops by default: where available,
    /// unless `LATENTSCALE_KERNEL=portable`.
    static let simdEnabled = simdAvailable && ProcessInfo.processInfo.environment["LATENTSCALE_KERNEL"] != "portable"

    /// ``momentsLoop`` over `count` contiguous elements at `p`, by the AVX2 loop.
    @inline(__always)
    static func simdMoments(_ format: Int32, _ p: UnsafeRawPointer, _ count: Int, higher: Bool, shift: Double,
                            out: UnsafeMutablePointer<Double>) -> (Double, Double, Double, Double) {
        let s = ls_moments(format, p, count, shift, higher ? 1 : 0, out)
        return (s.s1, s.s2, s.s3, s.s4)
    }

    /// Histogram mode's pass by the AVX2 loop: ``momentsLoop`` without Σd³,
    /// Σd⁴ and ``histogramLoop`` (adding one) from the same loads.
    @inline(__always)
    static func simdCountingMoments(_ format: Int32, _ p: UnsafeRawPointer, _ count: Int, shift: Double,
                                    out: UnsafeMutablePointer<Double>, counts: UnsafeMutablePointer<UInt32>)
        -> (Double, Double, Double, Double) {
        let s = ls_moments_counting(format, p, count, shift, out, counts)
        return (s.s1, s.s2, 0, 0)
    }

    /// ``countsLoop`` over `count` contiguous elements at `p`, by the AVX2 loop.
    @inline(__always)
    static func simdCounts(_ format: Int32, _ p: UnsafeRawPointer, _ count: Int, sketch: UnsafeMutablePointer<UInt32>,
                           delta: UInt32, clamp: ClampTerms?) -> (min: Double, max: Double, outside: Int) {
        let r: ls_counts
        if let clamp {
            var terms = ls_clamp(shift: clamp.shift, scale: clamp.scale, range: clamp.range, abs_sketch: clamp.absSketch)
            r = ls_count(format, p, count, sketch, delta, &terms)
        } else {
            r = ls_count(format, p, count, sketch, delta, nil)
        }
        return (Double(r.min), Double(r.max), Int(r.outside))
    }
}

extension BatchSummary {
    /// Which inner loops ingest uses in this process: `"avx2"` (the CPU has
    /// AVX2, FMA and F16C and `LATENTSCALE_KERNEL` is not `portable`) or
    /// `"portable"`. The results agree either way (counts exactly, sums up
    /// to rounding); only the speed differs.
    public static var ingestKernel: String { IngestKernel.simdEnabled ? "avx2" : "portable" }
}

extension QuantileSketch {
    /// ``init(denseCounts:negativeFrom:through:positiveFrom:through:)`` with
    /// the lower ends at 0x8000 and 0, by the AVX2 scan (`ls_occupied`):
    /// the same sketch, one pass that writes the occupied indexes to
    /// `scratch` (65,536 entries) instead of a counting pass and a filling
    /// pass in Swift, and no closure for the compiler to inline or not.
    init(occupiedIn table: UnsafePointer<UInt32>, negativeThrough: Int?, positiveThrough: Int?,
         scratch: UnsafeMutablePointer<UInt16>) {
        var negatives = 0, positives = 0
        if let top = negativeThrough {
            negatives = ls_occupied(table, 0x8000, Self.group(top, negative: true) &+ 8, scratch)
        }
        if let top = positiveThrough {
            positives = ls_occupied(table, 0, Self.group(top, negative: false) &+ 8, scratch + negatives)
        }
        let n = negatives &+ positives
        var counts: [UInt64] = []
        let keys = [UInt16](unsafeUninitializedCapacity: n) { k, keysWritten in
            counts = [UInt64](unsafeUninitializedCapacity: n) { c, countsWritten in
                // Negative values first, the most negative (highest raw index) first.
                for j in 0..<negatives {
                    let raw = Int(scratch[negatives &- 1 &- j])
                    k[j] = Self.orderKey(raw: raw); c[j] = UInt64(table[raw])
                }
                for j in 0..<positives {
                    let raw = Int(scratch[negatives &+ j])
                    k[negatives &+ j] = Self.orderKey(raw: raw); c[negatives &+ j] = UInt64(table[raw])
                }
                countsWritten = n
            }
            keysWritten = n
        }
        self.init(keys: keys, counts: counts)
    }
}
