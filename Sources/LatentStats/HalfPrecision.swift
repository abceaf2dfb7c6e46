/// Conversions from the two 16-bit float formats to `Float`.
///
/// float16 goes through a 65,536-entry table built once: a lookup beats the
/// software conversion by a wide margin in the ingest loop.
public enum HalfPrecision {
    /// IEEE binary16 bits to Float (exact: every binary16 value is a Float).
    @inline(__always)
    public static func float16(_ bits: UInt16) -> Float { table[Int(bits)] }

    /// bfloat16 bits to Float (exact: bfloat16 is the top half of a binary32).
    @inline(__always)
    public static func bfloat16(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    static let table: [Float] = (0..<65536).map { convertBinary16(UInt16($0)) }

    /// Bit-level binary16 → binary32 conversion (normals, subnormals, inf, NaN).
    static func convertBinary16(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int((h >> 10) & 0x1F)
        var mantissa = UInt32(h & 0x3FF)
        switch exponent {
        case 0:
            if mantissa == 0 { return Float(bitPattern: sign) }
            // Subnormal: normalise into a binary32 normal.
            var e = -14
            while mantissa & 0x400 == 0 { mantissa <<= 1; e -= 1 }
            mantissa &= 0x3FF
            return Float(bitPattern: sign | UInt32(e + 127) << 23 | mantissa << 13)
        case 0x1F:
            return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
        default:
            return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | mantissa << 13)
        }
    }
}
