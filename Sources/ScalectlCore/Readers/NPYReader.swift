import NpyFormat

/// Reads NumPy `.npy` files (format versions 1, 2 and 3).
///
/// Accepts the float dtypes the daemon takes (`f2`, `f4`, `f8`, either byte
/// order) in C or Fortran order and returns C-ordered little-endian bytes.
public enum NPYReader {
    public static func read(_ bytes: [UInt8]) throws(ReadError) -> LatentArray {
        let header: NpyFileHeader
        do { header = try bytes.withUnsafeBytes { try NpyFileHeader($0) } } catch {
            throw ReadError("\(error)")
        }
        let shape = header.shape
        let (dtype, bigEndian) = try parseDescr(header.descr)
        let dataStart = header.dataOffset
        let expected = try checkedByteCount(shape, elementSize: dtype.size)
        let available = bytes.count - dataStart
        guard available >= expected else {
            throw ReadError("truncated .npy data: shape \(shape) of \(dtype.rawValue) needs \(expected) bytes, the file has \(available)")
        }
        var data = Array(bytes[dataStart..<dataStart + expected])
        if bigEndian { data = byteSwapped(data, elementSize: dtype.size) }
        if header.fortranOrder { data = reverseAxes(data, shape: shape, elementSize: dtype.size) }
        return LatentArray(dtype: dtype, shape: shape, bytes: data)
    }

    static func parseDescr(_ descr: String) throws(ReadError) -> (DType, bigEndian: Bool) {
        var chars = Substring(descr)
        var bigEndian = false
        if let first = chars.first, "<>=|".contains(first) {
            bigEndian = first == ">"
            chars = chars.dropFirst()
        }
        switch chars {
        case "f2", "e": return (.float16, bigEndian)
        case "f4", "f": return (.float32, bigEndian)
        case "f8", "d": return (.float64, bigEndian)
        case "bfloat16": return (.bfloat16, false)
        default: throw ReadError("dtype '\(descr)' is not a float type the daemon takes (float16, float32, float64)")
        }
    }
}
