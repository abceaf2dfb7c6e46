/// Reads one tensor from a `.safetensors` file: an 8-byte little-endian
/// header length, a JSON header naming each tensor's dtype, shape and byte
/// range, then the raw little-endian data.
public enum SafetensorsReader {
    /// The tensor names in the file, without `__metadata__`.
    public static func keys(_ bytes: [UInt8]) throws(ReadError) -> [String] {
        try header(bytes).header.object!.map(\.0).filter { $0 != "__metadata__" }
    }

    public static func read(_ bytes: [UInt8], key requested: String?) throws(ReadError) -> LatentArray {
        let (header, dataStart) = try header(bytes)
        let names = header.object!.map(\.0).filter { $0 != "__metadata__" }
        let key = try LatentArray.selectKey(available: names, requested: requested)
        guard let info = header[key], let dtypeName = info["dtype"]?.string,
              let shapeValues = info["shape"]?.array, let offsets = info["data_offsets"]?.array,
              offsets.count == 2, let begin = offsets[0].int, let end = offsets[1].int
        else { throw ReadError("malformed entry for '\(key)' in the safetensors header") }
        let shape = shapeValues.compactMap(\.int)
        guard shape.count == shapeValues.count else { throw ReadError("malformed shape for '\(key)'") }
        let dtype: DType
        switch dtypeName {
        case "F32": dtype = .float32
        case "F16": dtype = .float16
        case "BF16": dtype = .bfloat16
        case "F64": dtype = .float64
        default: throw ReadError("tensor '\(key)' has dtype \(dtypeName); latents must be F32, F16, BF16 or F64")
        }
        let expected = try checkedByteCount(shape, elementSize: dtype.size)
        guard begin >= 0, end >= begin, end - begin == expected else {
            throw ReadError("tensor '\(key)': data_offsets [\(begin), \(end)] do not match shape \(shape) of \(dtypeName)")
        }
        guard dataStart + end <= bytes.count else { throw ReadError("truncated safetensors data for '\(key)'") }
        return LatentArray(dtype: dtype, shape: shape, bytes: Array(bytes[(dataStart + begin)..<(dataStart + end)]))
    }

    static func header(_ bytes: [UInt8]) throws(ReadError) -> (header: JSONValue, dataStart: Int) {
        guard bytes.count >= 8 else { throw ReadError("not a safetensors file (shorter than 8 bytes)") }
        var length: UInt64 = 0
        for i in (0..<8).reversed() { length = length << 8 | UInt64(bytes[i]) }
        guard length >= 2, length <= UInt64(bytes.count - 8) else {
            throw ReadError("not a safetensors file (header length \(length) does not fit the file)")
        }
        let end = 8 + Int(length)
        let header: JSONValue
        do {
            header = try JSONValue(parsing: Array(bytes[8..<end]))
        } catch {
            throw ReadError("not a safetensors file (header is not JSON: \(error))")
        }
        guard header.object != nil else { throw ReadError("not a safetensors file (header is not a JSON object)") }
        return (header, end)
    }
}
