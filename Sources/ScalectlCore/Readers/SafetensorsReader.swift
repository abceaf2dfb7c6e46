/// A `.safetensors` file: an 8-byte little-endian header length, a JSON
/// header naming each tensor's dtype, shape and byte range (and an optional
/// `__metadata__` of strings), then the raw little-endian data.
public struct SafetensorsFile {
    private let bytes: [UInt8]
    private let header: JSONValue
    private let dataStart: Int

    public init(_ bytes: [UInt8]) throws(ReadError) {
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
        self.bytes = bytes
        self.header = header
        self.dataStart = end
    }

    /// The tensor names in the file's order, without `__metadata__`.
    public var keys: [String] { header.object!.map(\.0).filter { $0 != "__metadata__" } }

    /// The `__metadata__` strings (musubi-tuner writes `architecture` there).
    public var metadata: [String: String] {
        var out: [String: String] = [:]
        for (k, v) in header["__metadata__"]?.object ?? [] { if let s = v.string { out[k] = s } }
        return out
    }

    public func array(_ key: String) throws(ReadError) -> LatentArray {
        guard let info = header[key], key != "__metadata__" else {
            throw ReadError("no tensor named '\(key)' (it has: \(keys.sorted().joined(separator: ", ")))")
        }
        guard let dtypeName = info["dtype"]?.string,
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
}
