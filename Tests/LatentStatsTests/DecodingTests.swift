import Foundation
import Testing
@testable import LatentStats

@Suite struct DecodingTests {
    /// binary16 from its definition: (−1)^s · 2^(e−15) · (1 + m/1024), subnormals 2^−14 · m/1024.
    static func float16Formula(_ h: UInt16) -> Double {
        let s = (h >> 15) == 1 ? -1.0 : 1.0
        let e = Int((h >> 10) & 0x1F), m = Double(h & 0x3FF)
        if e == 0 { return s * pow(2, -14) * m / 1024 }
        if e == 31 { return m == 0 ? s * .infinity : .nan }
        return s * pow(2, Double(e - 15)) * (1 + m / 1024)
    }

    /// bfloat16 from its definition: (−1)^s · 2^(e−127) · (1 + m/128), subnormals 2^−126 · m/128.
    static func bfloat16Formula(_ h: UInt16) -> Double {
        let s = (h >> 15) == 1 ? -1.0 : 1.0
        let e = Int((h >> 7) & 0xFF), m = Double(h & 0x7F)
        if e == 0 { return s * pow(2, -126) * m / 128 }
        if e == 255 { return m == 0 ? s * .infinity : .nan }
        return s * pow(2, Double(e - 127)) * (1 + m / 128)
    }

    @Test func everyFloat16BitPattern() {
        var mismatches = 0
        for bits in 0...UInt16.max {
            let got = Double(HalfPrecision.float16(bits)), want = Self.float16Formula(bits)
            let same = got.isNaN ? want.isNaN : got == want && got.sign == want.sign
            if !same { mismatches += 1 }
            #if arch(x86_64) || arch(arm64)
            let native = Double(Float(Float16(bitPattern: bits)))
            if !(native.isNaN ? got.isNaN : native == got) { mismatches += 1 }
            #endif
        }
        #expect(mismatches == 0)
    }

    @Test func everyBFloat16BitPattern() {
        var mismatches = 0
        for bits in 0...UInt16.max {
            let got = Double(HalfPrecision.bfloat16(bits)), want = Self.bfloat16Formula(bits)
            if !(got.isNaN ? want.isNaN : got == want && got.sign == want.sign) { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }

    @Test(arguments: DType.allCases)
    func decodesUnalignedBytesOfEveryDType(dtype: DType) throws {
        // Values exactly representable in every dtype, written little-endian at an odd offset.
        let values: [Double] = [1.5, -2.25, 0.125, 3, -0.5, 8, 0.75, -1]
        var bytes: [UInt8] = [0xAA] // misalign
        for v in values {
            switch dtype {
            case .float32: withUnsafeBytes(of: Float(v).bitPattern.littleEndian) { bytes += $0 }
            case .float64: withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 }
            case .float16: withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { bytes += $0 }
            case .bfloat16: withUnsafeBytes(of: UInt16(Float(v).bitPattern >> 16).littleEndian) { bytes += $0 }
            }
        }
        let layout = try TensorLayout(shape: [2, 4], dtype: dtype)
        let (s, _) = try bytes.withUnsafeBytes { raw in
            try BatchSummary.ingest(bytes: UnsafeRawBufferPointer(rebasing: raw[1...]), layout: layout)
        }
        #expect(s.total.mean == Oracle.mean(values))
        #expect(s.total.min == -2.25 && s.total.max == 8)
        #expect(abs(s.total.variance! - Oracle.variance(values)) < 1e-12)
    }

    @Test func dtypeNamesAndAliases() throws {
        #expect(try DType(parsing: "float32") == .float32)
        #expect(try DType(parsing: "BF16") == .bfloat16)
        #expect(try DType(parsing: "<f2") == .float16)
        #expect(throws: TensorError.unknownDType("int8")) { try DType(parsing: "int8") }
    }

    @Test func badShapesAreTypedErrors() {
        #expect(throws: TensorError.tooFewDimensions([5])) { try TensorLayout(shape: [5], dtype: .float32) }
        #expect(throws: TensorError.zeroSizedDimension([2, 0, 3])) { try TensorLayout(shape: [2, 0, 3], dtype: .float32) }
        #expect(throws: TensorError.negativeDimension([2, -1])) { try TensorLayout(shape: [2, -1], dtype: .float32) }
        #expect(throws: TensorError.elementCountOverflow([1 << 40, 1 << 30])) {
            try TensorLayout(shape: [1 << 40, 1 << 30], dtype: .float32)
        }
        #expect(throws: TensorError.elementCountOverflow([1 << 31, 1 << 31])) {
            try TensorLayout(shape: [1 << 31, 1 << 31], dtype: .float64) // fits Int, bytes do not
        }
        #expect(throws: TensorError.channelAxisOutOfRange(axis: 4, rank: 4)) {
            try TensorLayout(shape: [2, 4, 8, 8], dtype: .float32, channelAxis: 4)
        }
        #expect(throws: TensorError.channelAxisOutOfRange(axis: -5, rank: 4)) {
            try TensorLayout(shape: [2, 4, 8, 8], dtype: .float32, channelAxis: -5)
        }
        #expect(throws: TensorError.channelAxisIsSampleAxis) {
            try TensorLayout(shape: [2, 4, 8, 8], dtype: .float32, channelAxis: -4)
        }
    }

    @Test func lengthMismatchIsRejectedWithTheExpectedSize() throws {
        let layout = try TensorLayout(shape: [2, 4, 3], dtype: .float16)
        let bytes = [UInt8](repeating: 0, count: 47)
        #expect(throws: TensorError.lengthMismatch(expected: 48, actual: 47, shape: [2, 4, 3], dtype: .float16)) {
            try bytes.withUnsafeBytes { try BatchSummary.ingest(bytes: $0, layout: layout) }
        }
        #expect(TensorError.lengthMismatch(expected: 48, actual: 47, shape: [2, 4, 3], dtype: .float16)
            .description.contains("needs 48"))
    }

    @Test func layoutForChannelsLast() throws {
        let l = try TensorLayout(shape: [2, 5, 6, 3], dtype: .float32, channelAxis: -1)
        #expect(l.channelAxis == 3 && l.outer == 30 && l.channels == 3 && l.inner == 1)
        let m = try TensorLayout(shape: [2, 3, 5, 6], dtype: .float32, channelAxis: 1)
        #expect(m.outer == 1 && m.channels == 3 && m.inner == 30)
    }
}
