import Foundation
import Testing
@testable import LatentStats

@Suite struct HistogramTests {
    static func values(_ n: Int, seed: UInt64, shift: Double, spread: Double) -> [Double] {
        var s = seed
        return (0..<n).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            let u = Double(s >> 11) / Double(1 << 53)
            return Double(Float(shift + spread * (u - 0.5) * 4))
        }
    }

    /// The exact count per bin, and the documented bound: the counts of the
    /// sketch buckets that hold a bin edge.
    static func exact(_ v: [Double], edges: [Double], shift: Double, scale: Double) -> (counts: [Int], bound: [Double], below: Int, above: Int) {
        var counts = [Int](repeating: 0, count: edges.count - 1), below = 0, above = 0
        for x in v {
            let y = (x - shift) * scale
            if y < edges[0] { below += 1; continue }
            if y > edges.last! { above += 1; continue }
            var i = edges.count - 2
            while i > 0 && y < edges[i] { i -= 1 }
            counts[i] += 1
        }
        let sketch = QuantileSketch(values: v)
        func straddling(_ e: Double) -> Double {
            var c = 0.0
            for (k, n) in zip(sketch.keys, sketch.counts) {
                let r = QuantileSketch.range(ofKey: k)
                let a = Swift.min((r.lo - shift) * scale, (r.hi - shift) * scale)
                let b = Swift.max((r.lo - shift) * scale, (r.hi - shift) * scale)
                if a <= e && e <= b { c += Double(n) }
            }
            return c
        }
        let bound = (0..<(edges.count - 1)).map { straddling(edges[$0]) + straddling(edges[$0 + 1]) }
        return (counts, bound, below, above)
    }

    @Test(arguments: [(0.0, 1.0, 1.0, 0.0), (1e4, 1.0, 0.5, 1e4), (-0.3, 2.0, 0.18215, 0.1)])
    func withinTheBoundAndTotalsExact(shift: Double, spread: Double, scale: Double, refShift: Double) {
        let v = Self.values(20_000, seed: 9, shift: shift, spread: spread)
        let sketch = QuantileSketch(values: v)
        let lo = (v.min()! - refShift) * scale, hi = (v.max()! - refShift) * scale
        let inner = (lo + 0.1 * (hi - lo), hi - 0.1 * (hi - lo))   // some values fall outside
        for (a, b) in [(lo, hi), inner] {
            let h = Histogram(sketch, lo: a, hi: b, bins: 37, shift: refShift, scale: scale, within: (v.min()!, v.max()!))
            let e = Self.exact(v, edges: h.edges, shift: refShift, scale: scale)
            #expect(abs(h.counts.reduce(0, +) + h.below + h.above - Double(v.count)) < 1e-6)
            for i in 0..<h.counts.count {
                #expect(abs(h.counts[i] - Double(e.counts[i])) <= e.bound[i] + 1e-9, "bin \(i)")
            }
            #expect(abs(h.below - Double(e.below)) <= e.bound[0] + 1e-9)
            #expect(abs(h.above - Double(e.above)) <= e.bound[e.bound.count - 1] + 1e-9)
        }
    }

    @Test func aPointMassLandsInOneBin() {
        let sketch = QuantileSketch(values: [0, 0, 0, 1e-40])
        let h = Histogram(sketch, lo: -1, hi: 1, bins: 4)
        #expect(h.counts == [0, 0, 4, 0] && h.below == 0 && h.above == 0)
    }
}
