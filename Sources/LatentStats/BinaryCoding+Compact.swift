/// The versions of the summary's binary form (`scaled-protocol(7)`, "SUMMARY FORMAT").
public enum SummaryFormat: UInt8, Sendable, CaseIterable {
    /// Version 1: fixed 8-byte integers and, per sketch bucket, a 2-byte key
    /// and an 8-byte count. What the peer exchange and `scalectl export`
    /// write, so that any build can read it.
    case fixed = 1
    /// Version 2: the same values, integers as LEB128 varints, sketch keys as
    /// varint gaps from the previous key, no empty buckets, no lengths that
    /// the channel count implies. A quarter to a third of version 1 for real
    /// latents: what the journal and snapshots write.
    case compact = 2

    /// The format of an encoded summary (its version byte), or nil when the
    /// bytes are not a summary of a known version.
    public init?(of bytes: some Collection<UInt8>) {
        guard bytes.count > BatchSummary.magic.count,
              bytes.starts(with: BatchSummary.magic) else { return nil }
        self.init(rawValue: bytes[bytes.index(bytes.startIndex, offsetBy: BatchSummary.magic.count)])
    }
}

extension Moments {
    func encodeCompact(to w: inout ByteWriter) {
        w.varint(count); w.double(mean); w.double(m2); w.double(m3); w.double(m4); w.double(min); w.double(max)
    }
    init(compact r: inout ByteReader) throws(BinaryCodingError) {
        self.init(count: try r.varintInt(), mean: try r.double(), m2: try r.double(), m3: try r.double(),
                  m4: try r.double(), min: try r.double(), max: try r.double())
    }
}

extension SampleSpread {
    func encodeCompact(to w: inout ByteWriter) {
        variances.encodeCompact(to: &w); means.encodeCompact(to: &w); meanSquares.encodeCompact(to: &w)
    }
    init(compact r: inout ByteReader) throws(BinaryCodingError) {
        self.init(variances: try Moments(compact: &r), means: try Moments(compact: &r), meanSquares: try Moments(compact: &r))
    }
}

extension QuantileSketch {
    /// Buckets with a count of zero hold no value and are left out.
    func encodeCompact(to w: inout ByteWriter) {
        let n = counts.reduce(0) { $0 + ($1 > 0 ? 1 : 0) }
        w.reserve(1 + 4 * n)
        w.varint(n)
        var previous = -1
        for (k, c) in zip(keys, counts) where c > 0 {
            w.varint(UInt64(Int(k) - previous)); w.varint(c)
            previous = Int(k)
        }
    }
    init(compact r: inout ByteReader) throws(BinaryCodingError) {
        let n = try r.varint()
        guard n <= 65536 else { throw .inconsistent("sketch of \(n) buckets") }
        var keys: [UInt16] = [], counts: [UInt64] = []
        keys.reserveCapacity(Int(n)); counts.reserveCapacity(Int(n))
        var previous: UInt64 = 0
        for i in 0..<Int(n) {
            let gap = try r.varint()
            guard gap >= 1 else { throw .inconsistent("sketch keys out of order") }
            // Checked before the sum, which a huge gap would overflow.
            guard gap <= 65536 else { throw .inconsistent("sketch key beyond 16 bits") }
            let key = i == 0 ? gap - 1 : previous + gap
            guard key <= 0xFFFF else { throw .inconsistent("sketch key beyond 16 bits") }
            let count = try r.varint()
            guard count > 0 else { throw .inconsistent("empty sketch bucket") }
            keys.append(UInt16(key)); counts.append(count)
            previous = key
        }
        self.init(keys: keys, counts: counts)
    }
}

extension BatchSummary {
    func encodeCompact(to w: inout ByteWriter) {
        w.reserve(64 + (channels * channels + 2 * channels) * 8 + channels * 4 * 56 + sketch.keys.count * 4)
        w.varint(channels); w.varint(batches); w.varint(samples); w.varint(elements)
        w.varint(nanCount); w.varint(posInfCount); w.varint(negInfCount)
        total.encodeCompact(to: &w)
        for m in perChannel { m.encodeCompact(to: &w) }
        w.varint(covariance.count)
        for x in covariance.mean { w.double(x) }
        for x in covariance.comoment { w.double(x) }
        sketch.encodeCompact(to: &w)
        sampleSpread.encodeCompact(to: &w)
        for s in channelSpread { s.encodeCompact(to: &w) }
    }

    init(compact r: inout ByteReader) throws(BinaryCodingError) {
        let channels = try r.varint()
        guard channels > 0, channels <= 1 << 16 else { throw .inconsistent("channel count \(channels)") }
        let c = Int(channels)
        // Refuse a channel count whose co-moments cannot be there before allocating them.
        try Self.checkRoom(channels: c, bytesPerChannel: 8 + 4 * 49, fixed: 0, in: r)
        self.init(channels: c)
        batches = try r.varintInt(); samples = try r.varintInt(); elements = try r.varintInt()
        nanCount = try r.varintInt(); posInfCount = try r.varintInt(); negInfCount = try r.varintInt()
        total = try Moments(compact: &r)
        for i in 0..<c { perChannel[i] = try Moments(compact: &r) }
        let coCount = try r.varintInt()
        var coMean: [Double] = [], co: [Double] = []
        coMean.reserveCapacity(c); co.reserveCapacity(c * c)
        for _ in 0..<c { coMean.append(try r.double()) }
        for _ in 0..<(c * c) { co.append(try r.double()) }
        covariance = ChannelCovariance(channels: c, count: coCount, mean: coMean, comoment: co)
        sketch = try QuantileSketch(compact: &r)
        sampleSpread = try SampleSpread(compact: &r)
        for i in 0..<c { channelSpread[i] = try SampleSpread(compact: &r) }
    }
}
