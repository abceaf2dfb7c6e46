import CIngestSIMD

#if !_endian(little)
#error("the ingest loaders read little-endian tensors in place; a big-endian host needs byte swaps here")
#endif

/// Reads elements of one encoded dtype, singly or four at a time.
///
/// Each load also yields the element's raw quantile-sketch index
/// (`QuantileSketch.rawIndex(Float(value))`), taken straight from the bits
/// where the format allows, so the sketch costs no conversion.
protocol ElementLoader {
    static var size: Int { get }
    static func load(_ base: UnsafeRawPointer, _ index: Int) -> Double
    /// The element as a Double and, for a finite element, its raw sketch index.
    static func loadIndexed(_ base: UnsafeRawPointer, _ index: Int) -> (Double, Int)
    /// Elements `index` … `index + 3` as Doubles, with their raw sketch indexes.
    static func load4(_ base: UnsafeRawPointer, _ index: Int) -> (SIMD4<Double>, SIMD4<UInt32>)
    /// Whether every value is a Float (all but float64): min and max can then
    /// be taken in Float lanes, half the registers and instructions.
    static var narrow: Bool { get }
    /// Elements `index` … `index + 3` as Floats (only when ``narrow``).
    static func loadFloat4(_ base: UnsafeRawPointer, _ index: Int) -> SIMD4<Float>
    /// The encoding's code for the AVX2 loops (`CIngestSIMD`), nil where they do not read it.
    static var simdFormat: Int32? { get }
}

extension ElementLoader {
    static var narrow: Bool { true }
    static var simdFormat: Int32? { nil }
    @inline(__always)
    static func loadFloat4(_ base: UnsafeRawPointer, _ index: Int) -> SIMD4<Float> { SIMD4<Float>(load4(base, index).0) }

    /// Elements `index`, `index + stride`, … (four of them), for strided lines.
    @inline(__always)
    static func load4(_ base: UnsafeRawPointer, _ index: Int, stride: Int) -> (SIMD4<Double>, SIMD4<UInt32>) {
        let (a, ka) = loadIndexed(base, index), (b, kb) = loadIndexed(base, index &+ stride)
        let (c, kc) = loadIndexed(base, index &+ 2 &* stride), (d, kd) = loadIndexed(base, index &+ 3 &* stride)
        return (SIMD4(a, b, c, d), SIMD4(UInt32(truncatingIfNeeded: ka), UInt32(truncatingIfNeeded: kb),
                                         UInt32(truncatingIfNeeded: kc), UInt32(truncatingIfNeeded: kd)))
    }
}

/// The raw sketch indexes of four Floats: the top 16 bits of each binary32.
@inline(__always)
func rawIndexes(_ f: SIMD4<Float>) -> SIMD4<UInt32> {
    unsafeBitCast(f, to: SIMD4<UInt32>.self) &>> 16
}

struct F32Loader: ElementLoader {
    static let size = 4
    static var simdFormat: Int32? { Int32(LS_FORMAT_F32) }
    @inline(__always) static func load(_ base: UnsafeRawPointer, _ i: Int) -> Double {
        Double(Float(bitPattern: base.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self)))
    }
    @inline(__always) static func loadIndexed(_ base: UnsafeRawPointer, _ i: Int) -> (Double, Int) {
        let bits = base.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self)
        return (Double(Float(bitPattern: bits)), Int(truncatingIfNeeded: bits &>> 16))
    }
    @inline(__always) static func load4(_ base: UnsafeRawPointer, _ i: Int) -> (SIMD4<Double>, SIMD4<UInt32>) {
        let bits = base.loadUnaligned(fromByteOffset: i &* 4, as: SIMD4<UInt32>.self)
        return (SIMD4<Double>(unsafeBitCast(bits, to: SIMD4<Float>.self)), bits &>> 16)
    }
    @inline(__always) static func loadFloat4(_ base: UnsafeRawPointer, _ i: Int) -> SIMD4<Float> {
        base.loadUnaligned(fromByteOffset: i &* 4, as: SIMD4<Float>.self)
    }
}

struct F64Loader: ElementLoader {
    static let size = 8
    static var narrow: Bool { false }
    @inline(__always) static func load(_ base: UnsafeRawPointer, _ i: Int) -> Double {
        Double(bitPattern: base.loadUnaligned(fromByteOffset: i &* 8, as: UInt64.self))
    }
    @inline(__always) static func loadIndexed(_ base: UnsafeRawPointer, _ i: Int) -> (Double, Int) {
        let v = load(base, i)
        return (v, QuantileSketch.rawIndex(Float(v)))
    }
    @inline(__always) static func load4(_ base: UnsafeRawPointer, _ i: Int) -> (SIMD4<Double>, SIMD4<UInt32>) {
        let v = base.loadUnaligned(fromByteOffset: i &* 8, as: SIMD4<Double>.self)
        return (v, rawIndexes(SIMD4<Float>(v)))
    }
}

struct F16Loader: ElementLoader {
    static let size = 2
    static var simdFormat: Int32? { Int32(LS_FORMAT_F16) }
    @inline(__always) static func load(_ base: UnsafeRawPointer, _ i: Int) -> Double {
        Double(HalfPrecision.float16(base.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self)))
    }
    @inline(__always) static func loadIndexed(_ base: UnsafeRawPointer, _ i: Int) -> (Double, Int) {
        let f = HalfPrecision.float16(base.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))
        return (Double(f), QuantileSketch.rawIndex(f))
    }
    @inline(__always) static func load4(_ base: UnsafeRawPointer, _ i: Int) -> (SIMD4<Double>, SIMD4<UInt32>) {
        let h = base.loadUnaligned(fromByteOffset: i &* 2, as: SIMD4<UInt16>.self)
        let f = HalfPrecision.table.withUnsafeBufferPointer { t in
            SIMD4<Float>(t[Int(h[0])], t[Int(h[1])], t[Int(h[2])], t[Int(h[3])])
        }
        return (SIMD4<Double>(f), rawIndexes(f))
    }
}

struct BF16Loader: ElementLoader {
    static let size = 2
    static var simdFormat: Int32? { Int32(LS_FORMAT_BF16) }
    @inline(__always) static func load(_ base: UnsafeRawPointer, _ i: Int) -> Double {
        Double(HalfPrecision.bfloat16(base.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self)))
    }
    @inline(__always) static func loadIndexed(_ base: UnsafeRawPointer, _ i: Int) -> (Double, Int) {
        let bits = base.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self)
        return (Double(HalfPrecision.bfloat16(bits)), Int(bits)) // bfloat16 bits are the top half of the binary32
    }
    @inline(__always) static func load4(_ base: UnsafeRawPointer, _ i: Int) -> (SIMD4<Double>, SIMD4<UInt32>) {
        let keys = SIMD4<UInt32>(truncatingIfNeeded: base.loadUnaligned(fromByteOffset: i &* 2, as: SIMD4<UInt16>.self))
        return (SIMD4<Double>(unsafeBitCast(keys &<< 16, to: SIMD4<Float>.self)), keys)
    }
    @inline(__always) static func loadFloat4(_ base: UnsafeRawPointer, _ i: Int) -> SIMD4<Float> {
        let keys = SIMD4<UInt32>(truncatingIfNeeded: base.loadUnaligned(fromByteOffset: i &* 2, as: SIMD4<UInt16>.self))
        return unsafeBitCast(keys &<< 16, to: SIMD4<Float>.self)
    }
}
