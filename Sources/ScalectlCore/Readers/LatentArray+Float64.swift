extension LatentArray {
    /// The elements as `Double`, whatever the dtype (exact: every float16,
    /// bfloat16 and float32 value is a double).
    public func doubles() -> [Double] {
        let n = elementCount
        var out = [Double](repeating: 0, count: n)
        bytes.withUnsafeBytes { raw in
            switch dtype {
            case .float64:
                for i in 0..<n { out[i] = Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))) }
            case .float32:
                for i in 0..<n { out[i] = Double(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))) }
            case .float16:
                for i in 0..<n { out[i] = Double(halfBits: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))) }
            case .bfloat16:
                for i in 0..<n {
                    let bits = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
                    out[i] = Double(Float(bitPattern: UInt32(bits) << 16))
                }
            }
        }
        return out
    }

    /// A float64 array of `shape` holding `values`.
    public init(float64 values: [Double], shape: [Int]) {
        var bytes = [UInt8](repeating: 0, count: values.count * 8)
        bytes.withUnsafeMutableBytes { raw in
            for (i, v) in values.enumerated() { raw.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: i * 8, as: UInt64.self) }
        }
        self.init(dtype: .float64, shape: shape, bytes: bytes)
    }
}

extension Double {
    /// IEEE 754 binary16 bits to a double, subnormals, infinities and NaN included.
    init(halfBits h: UInt16) {
        let sign: Double = h & 0x8000 != 0 ? -1 : 1
        let exponent = Int((h >> 10) & 0x1F), fraction = Double(h & 0x3FF)
        switch exponent {
        case 0: self = sign * fraction * 0x1p-24
        case 31: self = fraction == 0 ? sign * .infinity : .nan
        default: self = sign * (1 + fraction / 1024) * Double(sign: .plus, exponent: exponent - 15, significand: 1)
        }
    }
}
