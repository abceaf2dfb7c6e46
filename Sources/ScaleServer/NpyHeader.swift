import LatentStats

/// The header of a NumPy `.npy` file (format versions 1–3).
public struct NpyHeader: Sendable, Equatable {
    public var dtype: DType
    public var shape: [Int]
    /// Offset of the array data from the start of the file.
    public var dataOffset: Int

    /// Why an `.npy` body was rejected.
    public struct Failure: Error, Equatable, CustomStringConvertible {
        /// `invalid_npy` for a malformed file, `unsupported_npy` for a valid one we cannot read.
        public var code: String
        public var description: String
    }

    static func invalid(_ m: String) -> Failure { Failure(code: "invalid_npy", description: m) }
    static func unsupported(_ m: String) -> Failure { Failure(code: "unsupported_npy", description: m) }

    /// Parses the header at the start of `bytes`.
    public init(_ bytes: UnsafeRawBufferPointer) throws(Failure) {
        let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw Self.invalid("body is not a .npy file (no \\x93NUMPY magic); send np.save output, or raw bytes with Content-Type application/octet-stream")
        }
        let major = bytes[6]
        let headerLength: Int
        let start: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            start = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw Self.invalid(".npy file is truncated inside its header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            start = 12
        default:
            throw Self.unsupported(".npy format version \(major) is not supported; use version 1, 2 or 3 (np.save writes these)")
        }
        guard start + headerLength <= bytes.count else { throw Self.invalid(".npy file is truncated inside its header") }
        guard let text = String(validating: bytes[start..<(start + headerLength)], as: UTF8.self) else {
            throw Self.invalid(".npy header is not text")
        }
        let descr = try Self.value(of: "descr", in: text)
        let fortran = try Self.value(of: "fortran_order", in: text)
        let shapeText = try Self.value(of: "shape", in: text)
        switch fortran {
        case "False": break
        case "True": throw Self.unsupported(".npy array is in Fortran order; save np.ascontiguousarray(x) instead")
        default: throw Self.invalid(".npy header has fortran_order \(fortran)")
        }
        let d = descr.trimmingCharacters(in: "'\"")
        switch d {
        case "<f2": dtype = .float16
        case "<f4": dtype = .float32
        case "<f8": dtype = .float64
        default:
            throw Self.unsupported(".npy dtype \(d) is not supported; use little-endian float16, float32 or float64 (<f2, <f4, <f8), or send bfloat16 as raw bytes with dtype=bfloat16")
        }
        guard shapeText.first == "(", shapeText.last == ")" else { throw Self.invalid(".npy header has a malformed shape \(shapeText)") }
        var dims: [Int] = []
        for part in shapeText.dropFirst().dropLast().split(separator: ",") {
            let t = part.trimmingCharacters(in: " L")
            if t.isEmpty { continue }
            guard let v = Int(t) else { throw Self.invalid(".npy header has a malformed shape \(shapeText)") }
            dims.append(v)
        }
        shape = dims
        dataOffset = start + headerLength
    }

    /// The literal value after `'key':` in the header dict, up to the next top-level comma or brace.
    static func value(of key: String, in text: String) throws(Failure) -> String {
        guard let k = text.range(of: "'\(key)'") ?? text.range(of: "\"\(key)\""),
              let colon = text[k.upperBound...].firstIndex(of: ":") else {
            throw invalid(".npy header lacks '\(key)'")
        }
        var depth = 0
        var end = text.endIndex
        var i = text.index(after: colon)
        while i < text.endIndex {
            let ch = text[i]
            if ch == "(" || ch == "[" { depth += 1 }
            if ch == ")" || ch == "]" { depth -= 1 }
            if depth == 0 && (ch == "," || ch == "}") { end = i; break }
            if depth < 0 { end = i; break }
            i = text.index(after: i)
        }
        if depth > 0 { throw invalid(".npy header is malformed near '\(key)'") }
        return text[text.index(after: colon)..<end].trimmingCharacters(in: " ")
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
