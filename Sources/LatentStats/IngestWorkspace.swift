/// The ingest kernel's buffers, allocated once per kernel so that the
/// per-sample loop allocates nothing.
///
/// Per channel: the shift (the centre the sums are taken about), the four
/// power sums, min and max, the element count and the co-moment means; the
/// C × C co-moments; a tile of centred values; and the two dense sketch
/// tables (raw values and, with a normalizer, |normalized| values).
final class IngestWorkspace {
    let channels: Int
    let tileCapacity: Int
    let shift, s1, s2, s3, s4, lo, hi, coMean: UnsafeMutablePointer<Double>
    let counts: UnsafeMutablePointer<Int>
    let co: UnsafeMutablePointer<Double>
    let tile: UnsafeMutablePointer<Double>
    let sketch: UnsafeMutablePointer<UInt32>
    let absSketch: UnsafeMutablePointer<UInt32>?
    /// The normalizer's per-channel shift and scale (empty without one).
    let normShift, normScale: UnsafeMutablePointer<Double>

    init(channels C: Int, tileWidth: Int, clamp: Bool) {
        channels = C
        tileCapacity = C * tileWidth
        func doubles(_ n: Int) -> UnsafeMutablePointer<Double> {
            let p = UnsafeMutablePointer<Double>.allocate(capacity: Swift.max(n, 1))
            p.initialize(repeating: 0, count: Swift.max(n, 1))
            return p
        }
        shift = doubles(C); s1 = doubles(C); s2 = doubles(C); s3 = doubles(C); s4 = doubles(C)
        lo = doubles(C); hi = doubles(C); coMean = doubles(C)
        normShift = doubles(C); normScale = doubles(C)
        counts = .allocate(capacity: C); counts.initialize(repeating: 0, count: C)
        co = doubles(C * C)
        tile = doubles(tileCapacity)
        sketch = .allocate(capacity: 65536); sketch.initialize(repeating: 0, count: 65536)
        if clamp {
            let a = UnsafeMutablePointer<UInt32>.allocate(capacity: 65536)
            a.initialize(repeating: 0, count: 65536)
            absSketch = a
        } else {
            absSketch = nil
        }
    }

    deinit {
        for p in [shift, s1, s2, s3, s4, lo, hi, coMean, normShift, normScale, co, tile] { p.deallocate() }
        counts.deallocate()
        sketch.deallocate()
        absSketch?.deallocate()
    }

    /// Zeroes the sums and co-moments before a sweep.
    func clearSums() {
        for c in 0..<channels { s1[c] = 0; s2[c] = 0; s3[c] = 0; s4[c] = 0 }
        co.update(repeating: 0, count: channels * channels)
    }

    /// Resets min and max before a sample.
    func clearExtremes() {
        for c in 0..<channels { lo[c] = .infinity; hi[c] = -.infinity }
    }
}
