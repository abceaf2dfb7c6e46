/// A mergeable quantile sketch of Float values with bounded relative error.
///
/// Each finite value lands in the bucket named by the top 16 bits of its
/// binary32 pattern (sign, 8 exponent bits, 7 mantissa bits), so a bucket spans
/// a relative width of at most 2⁻⁷ and its midpoint is within 0.4% of every value
/// in it. A quantile interpolates between the buckets of the two order
/// statistics around it, as numpy does between the values, so it is within
/// 0.4% of numpy's value whenever both have the same sign. Buckets below 2⁻¹²⁶ (zero
/// and subnormals) collapse to one bucket reported as 0.
///
/// Memory is bounded by the number of distinct buckets (at most 65,280), and
/// in practice a few thousand: the sketch does not grow with the data.
public struct QuantileSketch: Sendable, Equatable {
    /// Order-preserving bucket keys, ascending, and their counts.
    public private(set) var keys: [UInt16]
    public private(set) var counts: [UInt64]

    public init() { keys = []; counts = [] }

    init(keys: [UInt16], counts: [UInt64]) {
        self.keys = keys; self.counts = counts
    }

    /// Total number of values in the sketch.
    public var count: UInt64 { counts.reduce(0, &+) }

    /// The raw bucket index (top 16 bits of the binary32 pattern) of a value.
    @inline(__always)
    public static func rawIndex(_ x: Float) -> Int { Int(truncatingIfNeeded: x.bitPattern >> 16) }

    /// Maps a raw bucket index to the order-preserving key.
    @inline(__always)
    static func orderKey(raw: Int) -> UInt16 {
        raw >= 0x8000 ? UInt16(0xFFFF - raw) : UInt16(raw + 0x8000)
    }

    /// The raw bucket index of an order-preserving key (the inverse of ``orderKey(raw:)``).
    @inline(__always)
    static func rawIndex(orderKey key: UInt16) -> Int {
        key >= 0x8000 ? Int(key) - 0x8000 : 0xFFFF - Int(key)
    }

    /// Builds a sketch from a dense table of counts indexed by raw bucket index.
    public init(denseCounts table: UnsafeBufferPointer<UInt32>) {
        self.init(denseCounts: table, negativeFrom: 0x8000, through: 0xFFFF, positiveFrom: 0, through: 0x7FFF)
    }

    /// The first raw index of the group of 8 entries that holds `raw`, kept
    /// within the negative (0x8000…0xFFFF) or positive (0…0x7FFF) half.
    @inline(__always)
    static func group(_ raw: Int, negative: Bool) -> Int {
        (negative ? Swift.min(Swift.max(raw, 0x8000), 0xFFFF) : Swift.min(Swift.max(raw, 0), 0x7FFF)) & ~7
    }

    /// Builds a sketch from the entries of a dense table that can be
    /// occupied: negative raw indexes `negativeFrom` … `negativeThrough` and
    /// positive ones `positiveFrom` … `positiveThrough` (nil: none of that
    /// sign). Raw indexes grow with |x| within a sign, so the raw indexes of
    /// a range's two ends bound those of every value in it, and the rest of
    /// the table need not be read. The lower ends are rounded down to a
    /// multiple of 8. This is the portable loops' scan; the AVX2 kernel
    /// builds the same sketch by `init(occupiedIn:negativeThrough:positiveThrough:scratch:)`
    /// (`IngestKernel+SIMD.swift`), one C pass instead of two here.
    init(denseCounts table: UnsafeBufferPointer<UInt32>, negativeFrom: Int = 0x8000, through negativeThrough: Int?,
         positiveFrom: Int = 0, through positiveThrough: Int?) {
        precondition(table.count == 65536)
        let t = table.baseAddress!
        // The table is mostly zeros: look at 8 entries at a time.
        @inline(__always) func empty(_ chunk: Int) -> Bool {
            var any: UInt32 = 0
            for i in 0..<8 { any |= t[chunk &+ i] }
            return any == 0
        }
        // Negative values: raw 0xFFFF (most negative) ... 0x8000, then positive 0x0000 ... 0x7FFF.
        let negative = negativeThrough.map { top in
            stride(from: Self.group(top, negative: true), through: Self.group(negativeFrom, negative: true), by: -8)
        }
        let positive = positiveThrough.map { top in
            stride(from: Self.group(positiveFrom, negative: false), through: Self.group(top, negative: false), by: 8)
        }
        // Two passes: count the occupied entries, then write them into arrays
        // of exactly that size (appending cost more than the scan).
        var occupied = 0
        @inline(__always) func count(_ chunk: Int) {
            guard !empty(chunk) else { return }
            for i in 0..<8 { occupied &+= t[chunk &+ i] != 0 ? 1 : 0 }
        }
        if let negative { for chunk in negative { count(chunk) } }
        if let positive { for chunk in positive { count(chunk) } }
        var counts: [UInt64] = []
        let keys = [UInt16](unsafeUninitializedCapacity: occupied) { k, keysWritten in
            counts = [UInt64](unsafeUninitializedCapacity: occupied) { c, countsWritten in
                var n = 0
                @inline(__always) func take(_ raw: Int) {
                    let v = t[raw]
                    guard v != 0, n < occupied else { return }
                    k[n] = Self.orderKey(raw: raw); c[n] = UInt64(v); n &+= 1
                }
                if let negative {
                    for chunk in negative where !empty(chunk) {
                        for raw in stride(from: chunk &+ 7, through: chunk, by: -1) { take(raw) }
                    }
                }
                if let positive {
                    for chunk in positive where !empty(chunk) {
                        for raw in chunk..<(chunk &+ 8) { take(raw) }
                    }
                }
                countsWritten = n
            }
            keysWritten = counts.count
        }
        self.init(keys: keys, counts: counts)
    }

    /// Builds a sketch of `values` (reference path; the ingest loop uses a dense table).
    public init<S: Sequence>(values: S) where S.Element == Double {
        var table = [UInt32](repeating: 0, count: 65536)
        for v in values where v.isFinite { table[Self.rawIndex(Float(v))] += 1 }
        self = table.withUnsafeBufferPointer { QuantileSketch(denseCounts: $0) }
    }

    /// Merges many sketches at once through a dense table: the same exact
    /// integer counts as merging them one by one, in time linear in their
    /// total size rather than quadratic in their number.
    public static func merged<S: Sequence>(_ sketches: S) -> QuantileSketch where S.Element == QuantileSketch {
        var table = [UInt64](repeating: 0, count: 65536)
        var any = false
        for sketch in sketches {
            for (k, c) in zip(sketch.keys, sketch.counts) { table[Int(k)] &+= c; any = true }
        }
        guard any else { return QuantileSketch() }
        var keys: [UInt16] = [], counts: [UInt64] = []
        for k in 0..<65536 where table[k] != 0 { keys.append(UInt16(k)); counts.append(table[k]) }
        return QuantileSketch(keys: keys, counts: counts)
    }

    /// Merges `other` into `self`: exact, associative, commutative.
    public mutating func merge(_ other: QuantileSketch) {
        guard !other.keys.isEmpty else { return }
        guard !keys.isEmpty else { self = other; return }
        // Written through pointers into arrays of the largest size the merge
        // can have, then cut to the keys it has (appending checked capacity
        // and uniqueness per entry, and the merge runs several times a push).
        let capacity = keys.count + other.keys.count
        var c: [UInt64] = []
        let k = keys.withUnsafeBufferPointer { ak in counts.withUnsafeBufferPointer { ac in
            other.keys.withUnsafeBufferPointer { bk in other.counts.withUnsafeBufferPointer { bc in
                [UInt16](unsafeUninitializedCapacity: capacity) { k, keysWritten in
                    c = [UInt64](unsafeUninitializedCapacity: capacity) { c, countsWritten in
                        var i = 0, j = 0, n = 0
                        while i < ak.count && j < bk.count {
                            let x = ak[i], y = bk[j]
                            if x < y { k[n] = x; c[n] = ac[i]; i &+= 1 }
                            else if y < x { k[n] = y; c[n] = bc[j]; j &+= 1 }
                            else { k[n] = x; c[n] = ac[i] + bc[j]; i &+= 1; j &+= 1 }
                            n &+= 1
                        }
                        while i < ak.count { k[n] = ak[i]; c[n] = ac[i]; i &+= 1; n &+= 1 }
                        while j < bk.count { k[n] = bk[j]; c[n] = bc[j]; j &+= 1; n &+= 1 }
                        countsWritten = n
                    }
                    keysWritten = c.count
                }
            } }
        } }
        keys = k; counts = c
    }

    /// The representative value of a bucket: the midpoint of its range.
    public static func value(ofKey key: UInt16) -> Double {
        let r = range(ofKey: key)   // zero and subnormals: (0, 0)
        return (r.lo + r.hi) / 2
    }

    /// The representative value of the order statistic of rank `k` (0-based).
    public func value(atRank k: UInt64) -> Double? {
        var seen: UInt64 = 0
        for (key, c) in zip(keys, counts) {
            seen += c
            if seen > k { return Self.value(ofKey: key) }
        }
        return keys.last.map(Self.value(ofKey:))
    }

    /// The value at quantile `q` in [0, 1], interpolated like numpy's default
    /// (`linear`) method between the order statistics of ranks ⌊h⌋ and ⌊h⌋+1,
    /// h = q·(n−1), each taken from its bucket. Nil when empty.
    public func quantile(_ q: Double) -> Double? {
        quantile(q, min: nil, max: nil)
    }

    /// As ``quantile(_:)``, using the exact extremes for ranks 0 and n−1 when known.
    public func quantile(_ q: Double, min lowest: Double?, max highest: Double?) -> Double? {
        let n = count
        guard n > 0 else { return nil }
        let h = Swift.min(Swift.max(q, 0), 1) * Double(n - 1)
        let lo = UInt64(h.rounded(.down))
        let hi = Swift.min(lo + 1, n - 1)
        func at(_ k: UInt64) -> Double {
            if k == 0, let lowest { return lowest }
            if k == n - 1, let highest { return highest }
            return value(atRank: k)!
        }
        let a = at(lo), t = h - Double(lo)
        return t == 0 ? a : a + t * (at(hi) - a)
    }
}
