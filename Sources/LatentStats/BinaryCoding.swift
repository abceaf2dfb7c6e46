/// The little-endian binary forms of summaries, used for journal rows,
/// snapshots and the peer exchange. Versioned by a leading magic and version
/// byte (``SummaryFormat``).
public enum BinaryCodingError: Error, Equatable, Sendable, CustomStringConvertible {
    case truncated
    case badMagic
    case unsupportedVersion(UInt8)
    case inconsistent(String)

    public var description: String {
        switch self {
        case .truncated: "stored summary is truncated"
        case .badMagic: "stored bytes are not a latentscale summary"
        case .unsupportedVersion(let v): "stored summary has format version \(v), which this build cannot read"
        case .inconsistent(let what): "stored summary is inconsistent: \(what)"
        }
    }
}

/// Appends primitive values in little-endian order.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    public init() {}
    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func int(_ v: Int) { u64(UInt64(bitPattern: Int64(v))) }
    public mutating func double(_ v: Double) { u64(v.bitPattern) }
    public mutating func doubles(_ v: [Double]) { int(v.count); for x in v { double(x) } }
    /// A length-prefixed run of bytes.
    public mutating func block(_ b: [UInt8]) { int(b.count); bytes.append(contentsOf: b) }
    /// An unsigned LEB128 varint: 7 bits a byte, low bits first, 1 to 10 bytes.
    public mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { bytes.append(UInt8(truncatingIfNeeded: v) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }
    /// A signed integer as the varint of its two's complement bit pattern
    /// (counts are never negative, so they take 1 to 8 bytes).
    public mutating func varint(_ v: Int) { varint(UInt64(bitPattern: Int64(v))) }
    public mutating func reserve(_ n: Int) { bytes.reserveCapacity(bytes.count + n) }
}

/// Reads what ``ByteWriter`` wrote; every read is bounds-checked.
public struct ByteReader {
    let bytes: [UInt8]
    var offset = 0
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var isAtEnd: Bool { offset == bytes.count }
    /// Bytes not read yet.
    public var remaining: Int { bytes.count - offset }
    public mutating func u8() throws(BinaryCodingError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated }
        defer { offset += 1 }
        return bytes[offset]
    }
    public mutating func u16() throws(BinaryCodingError) -> UInt16 {
        guard offset + 2 <= bytes.count else { throw .truncated }
        defer { offset += 2 }
        return UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }
    public mutating func u64() throws(BinaryCodingError) -> UInt64 {
        guard offset + 8 <= bytes.count else { throw .truncated }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        offset += 8
        return v
    }
    public mutating func int() throws(BinaryCodingError) -> Int { Int(Int64(bitPattern: try u64())) }
    public mutating func count(max: Int) throws(BinaryCodingError) -> Int {
        let n = try int()
        guard n >= 0, n <= max, n <= bytes.count - offset else { throw .inconsistent("count \(n)") }
        return n
    }
    public mutating func double() throws(BinaryCodingError) -> Double { Double(bitPattern: try u64()) }
    /// What ``ByteWriter/block(_:)`` wrote.
    public mutating func block() throws(BinaryCodingError) -> [UInt8] {
        let n = try count(max: bytes.count)
        defer { offset += n }
        return Array(bytes[offset..<(offset + n)])
    }
    /// What ``ByteWriter/varint(_:)-(UInt64)`` wrote. Only the shortest form
    /// is accepted, so that every value has exactly one encoding.
    public mutating func varint() throws(BinaryCodingError) -> UInt64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count else { throw .truncated }
            let b = bytes[offset]
            offset += 1
            if shift == 63 && b > 1 { throw .inconsistent("varint overflows 64 bits") }
            v |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 {
                if b == 0 && shift > 0 { throw .inconsistent("varint not in its shortest form") }
                return v
            }
            shift += 7
        }
    }
    /// What ``ByteWriter/varint(_:)-(Int)`` wrote.
    public mutating func varintInt() throws(BinaryCodingError) -> Int { Int(Int64(bitPattern: try varint())) }
    public mutating func doubles() throws(BinaryCodingError) -> [Double] {
        let n = try count(max: 1 << 24)
        var out: [Double] = []; out.reserveCapacity(n)
        for _ in 0..<n { out.append(try double()) }
        return out
    }
}

extension Moments {
    func encode(to w: inout ByteWriter) {
        w.int(count); w.double(mean); w.double(m2); w.double(m3); w.double(m4); w.double(min); w.double(max)
    }
    init(from r: inout ByteReader) throws(BinaryCodingError) {
        self.init(count: try r.int(), mean: try r.double(), m2: try r.double(), m3: try r.double(),
                  m4: try r.double(), min: try r.double(), max: try r.double())
    }
}

extension SampleSpread {
    func encode(to w: inout ByteWriter) {
        variances.encode(to: &w); means.encode(to: &w); meanSquares.encode(to: &w)
    }
    init(from r: inout ByteReader) throws(BinaryCodingError) {
        self.init(variances: try Moments(from: &r), means: try Moments(from: &r), meanSquares: try Moments(from: &r))
    }
}

extension QuantileSketch {
    func encode(to w: inout ByteWriter) {
        w.int(keys.count)
        for (k, c) in zip(keys, counts) { w.u16(k); w.u64(c) }
    }
    init(from r: inout ByteReader) throws(BinaryCodingError) {
        let n = try r.count(max: 65536)
        var keys: [UInt16] = [], counts: [UInt64] = []
        keys.reserveCapacity(n); counts.reserveCapacity(n)
        for i in 0..<n {
            let k = try r.u16()
            if i > 0 && k <= keys[i - 1] { throw .inconsistent("sketch keys out of order") }
            keys.append(k); counts.append(try r.u64())
        }
        self.init(keys: keys, counts: counts)
    }
}

extension BatchSummary {
    /// Throws unless `r` still holds the bytes that a summary of `channels`
    /// channels needs at the least: its `channels`² co-moments, `bytesPerChannel`
    /// per channel and `fixed` more. A damaged channel count must not allocate
    /// gigabytes of co-moments before the decoder finds the bytes missing.
    static func checkRoom(channels c: Int, bytesPerChannel: Int, fixed: Int, in r: ByteReader) throws(BinaryCodingError) {
        let needed = c * c * 8 + c * bytesPerChannel + fixed
        guard r.remaining >= needed else {
            throw .inconsistent("channel count \(c) needs at least \(needed) bytes, \(r.remaining) remain")
        }
    }

    static let magic: [UInt8] = Array("LSBS".utf8)
    /// The version ``encoded()`` writes when given no format.
    static let formatVersion: UInt8 = SummaryFormat.fixed.rawValue

    /// The summary's binary form, in `format` (by default version 1, the
    /// form every build reads; the journal writes ``SummaryFormat/compact``).
    public func encoded(_ format: SummaryFormat = .fixed) -> [UInt8] {
        var w = ByteWriter()
        for b in Self.magic { w.u8(b) }
        w.u8(format.rawValue)
        switch format {
        case .fixed: encodeFixed(to: &w)
        case .compact: encodeCompact(to: &w)
        }
        return w.bytes
    }

    private func encodeFixed(to w: inout ByteWriter) {
        w.int(channels); w.int(batches); w.int(samples); w.int(elements)
        w.int(nanCount); w.int(posInfCount); w.int(negInfCount)
        total.encode(to: &w)
        for m in perChannel { m.encode(to: &w) }
        w.int(covariance.count); w.doubles(covariance.mean); w.doubles(covariance.comoment)
        sketch.encode(to: &w)
        sampleSpread.encode(to: &w)
        for s in channelSpread { s.encode(to: &w) }
    }

    /// Decodes what ``encoded(_:)`` produced, in either format.
    public init(encoded bytes: [UInt8]) throws(BinaryCodingError) {
        var r = ByteReader(bytes)
        for b in Self.magic { guard try r.u8() == b else { throw .badMagic } }
        let version = try r.u8()
        guard let format = SummaryFormat(rawValue: version) else { throw .unsupportedVersion(version) }
        switch format {
        case .fixed: try self.init(fixed: &r)
        case .compact: try self.init(compact: &r)
        }
        guard r.isAtEnd else { throw .inconsistent("trailing bytes") }
    }

    private init(fixed r: inout ByteReader) throws(BinaryCodingError) {
        let channels = try r.count(max: 1 << 16)
        guard channels > 0 else { throw .inconsistent("zero channels") }
        // Counts, moments, co-moments and spreads: refuse a channel count the
        // bytes cannot hold before allocating its c-by-c co-moments.
        try Self.checkRoom(channels: channels, bytesPerChannel: 56 + 8 + 168, fixed: 6 * 8 + 56 + 3 * 8 + 8 + 168, in: r)
        self.init(channels: channels)
        batches = try r.int(); samples = try r.int(); elements = try r.int()
        nanCount = try r.int(); posInfCount = try r.int(); negInfCount = try r.int()
        total = try Moments(from: &r)
        for c in 0..<channels { perChannel[c] = try Moments(from: &r) }
        let coCount = try r.int()
        let coMean = try r.doubles()
        let co = try r.doubles()
        guard coMean.count == channels, co.count == channels * channels else { throw .inconsistent("covariance size") }
        covariance = ChannelCovariance(channels: channels, count: coCount, mean: coMean, comoment: co)
        sketch = try QuantileSketch(from: &r)
        sampleSpread = try SampleSpread(from: &r)
        for c in 0..<channels { channelSpread[c] = try SampleSpread(from: &r) }
    }
}

extension ClampCount {
    /// The clamp count's binary form. It carries no version of its own: a
    /// stored entry writes it in the format of the summary beside it.
    public func encoded(_ format: SummaryFormat = .fixed) -> [UInt8] {
        var w = ByteWriter()
        switch format {
        case .fixed:
            w.double(range); w.int(elements); w.int(outside); absSketch.encode(to: &w)
        case .compact:
            w.double(range); w.varint(elements); w.varint(outside); absSketch.encodeCompact(to: &w)
        }
        return w.bytes
    }

    /// Decodes what ``encoded(_:)`` produced in `format`.
    public init(encoded bytes: [UInt8], format: SummaryFormat = .fixed) throws(BinaryCodingError) {
        var r = ByteReader(bytes)
        switch format {
        case .fixed:
            self.init(range: try r.double(), elements: try r.int(), outside: try r.int(),
                      absSketch: try QuantileSketch(from: &r))
        case .compact:
            self.init(range: try r.double(), elements: try r.varintInt(), outside: try r.varintInt(),
                      absSketch: try QuantileSketch(compact: &r))
        }
        guard r.isAtEnd else { throw .inconsistent("trailing bytes") }
    }
}
