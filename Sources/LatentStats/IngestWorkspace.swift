import CIngestSIMD
import Foundation

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
    /// Histogram mode's per-channel value counts, C × 65,536 (`IngestKernel+Histogram.swift`).
    let hist: UnsafeMutablePointer<UInt32>?
    /// The normalizer's per-channel shift and scale (empty without one).
    let normShift, normScale: UnsafeMutablePointer<Double>
    /// The occupied indexes of one table (65,536 entries), for the AVX2 scan (`ls_occupied`).
    let occupied: UnsafeMutablePointer<UInt16>

    init(channels C: Int, tileWidth: Int, clamp: Bool, histogram: Bool) {
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
        sketch = .allocate(capacity: Self.sketchTableCount); sketch.initialize(repeating: 0, count: Self.sketchTableCount)
        if clamp {
            let a = UnsafeMutablePointer<UInt32>.allocate(capacity: Self.sketchTableCount)
            a.initialize(repeating: 0, count: Self.sketchTableCount)
            absSketch = a
        } else {
            absSketch = nil
        }
        occupied = .allocate(capacity: 65536)
        if histogram {
            let h = UnsafeMutablePointer<UInt32>.allocate(capacity: C * 65536)
            h.initialize(repeating: 0, count: C * 65536)
            hist = h
        } else {
            hist = nil
        }
    }

    deinit {
        for p in [shift, s1, s2, s3, s4, lo, hi, coMean, normShift, normScale, co, tile] { p.deallocate() }
        counts.deallocate()
        sketch.deallocate()
        absSketch?.deallocate()
        hist?.deallocate()
        occupied.deallocate()
    }

    /// Entries of each sketch table: two halves of 65,536 counts. The AVX2
    /// loops count alternate elements in the second half (`ls_count`, in
    /// `Sources/CIngestSIMD`); ``foldHalves(_:from:through:)`` adds it into
    /// the first, which is the table everything else reads and writes.
    static let sketchTableCount = 2 * 65536

    /// Adds entries `lo…hi` of the second half of `table` into the first
    /// and zeroes them there (rounded out to whole groups of 8), by AVX2:
    /// only the AVX2 loops write the second half.
    static func foldHalves(_ table: UnsafeMutablePointer<UInt32>, from lo: Int, through hi: Int) {
        ls_fold_halves(table, lo & ~7, hi | 7)
    }

    /// Zeroes the sums and co-moments before a sweep.
    func clearSums() {
        for c in 0..<channels { s1[c] = 0; s2[c] = 0; s3[c] = 0; s4[c] = 0 }
        co.update(repeating: 0, count: channels * channels)
    }

    /// Sets the sketch table's entries named by `sketch` back to zero
    /// (what ``QuantileSketch/init(denseCounts:)`` found in it).
    static func clear(_ table: UnsafeMutablePointer<UInt32>, entriesOf sketch: QuantileSketch) {
        for key in sketch.keys { table[QuantileSketch.rawIndex(orderKey: key)] = 0 }
    }

    /// Resets min and max before a sample.
    func clearExtremes() {
        for c in 0..<channels { lo[c] = .infinity; hi[c] = -.infinity }
    }
}

/// Workspaces kept between ingests, so that a push neither allocates nor
/// zeroes its tables (1.5 MiB for a four-channel 16-bit tensor): a returned
/// workspace has had exactly the entries it used set back to zero.
enum IngestWorkspacePool {
    /// The most workspaces kept; more are freed (one per concurrent chunk is the need).
    static let capacity = 16
    private static let lock = NSLock()
    nonisolated(unsafe) private static var free: [IngestWorkspace] = []

    /// A zeroed workspace for these needs, reused when one is free.
    static func take(channels: Int, tileWidth: Int, clamp: Bool, histogram: Bool) -> IngestWorkspace {
        lock.lock()
        if let i = free.firstIndex(where: {
            $0.channels == channels && $0.tileCapacity >= channels * tileWidth
                && ($0.absSketch != nil) == clamp && ($0.hist != nil) == histogram
        }) {
            let w = free.remove(at: i)
            lock.unlock()
            return w
        }
        lock.unlock()
        return IngestWorkspace(channels: channels, tileWidth: tileWidth, clamp: clamp, histogram: histogram)
    }

    /// Returns a workspace whose tables are all zero again.
    static func give(_ w: IngestWorkspace) {
        lock.lock()
        defer { lock.unlock() }
        if free.count < capacity { free.append(w) }
    }
}
