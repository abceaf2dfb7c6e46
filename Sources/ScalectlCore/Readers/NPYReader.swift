/// Reads NumPy `.npy` files (format versions 1, 2 and 3).
///
/// Accepts the float dtypes the daemon takes (`f2`, `f4`, `f8`, either byte
/// order) in C or Fortran order and returns C-ordered little-endian bytes.
public enum NPYReader {
    public static func read(_ bytes: [UInt8]) throws(ReadError) -> LatentArray {
        let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw ReadError("not a NumPy .npy file (bad magic)")
        }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw ReadError("truncated .npy header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw ReadError("unsupported .npy format version \(major)")
        }
        guard headerStart + headerLength <= bytes.count else { throw ReadError("truncated .npy header") }
        let header = String(decoding: bytes[headerStart..<headerStart + headerLength], as: UTF8.self)
        let dict = try PythonLiteral.parseDict(header)
        guard case let .string(descr)? = dict["descr"] else {
            throw ReadError("the .npy header has no simple 'descr' (structured arrays are not latents)")
        }
        guard case let .bool(fortran)? = dict["fortran_order"] else { throw ReadError("the .npy header has no 'fortran_order'") }
        guard case let .tuple(shape)? = dict["shape"] else { throw ReadError("the .npy header has no 'shape'") }

        let (dtype, bigEndian) = try parseDescr(descr)
        let dataStart = headerStart + headerLength
        let expected = try checkedByteCount(shape, elementSize: dtype.size)
        let available = bytes.count - dataStart
        guard available >= expected else {
            throw ReadError("truncated .npy data: shape \(shape) of \(dtype.rawValue) needs \(expected) bytes, the file has \(available)")
        }
        var data = Array(bytes[dataStart..<dataStart + expected])
        if bigEndian { data = byteSwapped(data, elementSize: dtype.size) }
        if fortran { data = reverseAxes(data, shape: shape, elementSize: dtype.size) }
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

/// The subset of Python literal syntax that `.npy` headers use:
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }`.
enum PythonLiteral: Equatable {
    case string(String)
    case bool(Bool)
    case int(Int)
    case tuple([Int])

    static func parseDict(_ text: String) throws(ReadError) -> [String: PythonLiteral] {
        var s = Array(text.unicodeScalars)
        while let last = s.last, last == "\n" || last == " " || last == "\0" { s.removeLast() }
        var i = 0
        func skip() { while i < s.count, s[i] == " " || s[i] == "\t" || s[i] == "\n" { i += 1 } }
        func expect(_ c: Unicode.Scalar) throws(ReadError) {
            skip()
            guard i < s.count, s[i] == c else { throw ReadError("malformed .npy header: \(text)") }
            i += 1
        }
        func string() throws(ReadError) -> String {
            skip()
            guard i < s.count, s[i] == "'" || s[i] == "\"" else { throw ReadError("malformed .npy header: \(text)") }
            let quote = s[i]
            i += 1
            var out = String.UnicodeScalarView()
            while i < s.count, s[i] != quote { out.append(s[i]); i += 1 }
            guard i < s.count else { throw ReadError("malformed .npy header: \(text)") }
            i += 1
            return String(out)
        }
        func integer() throws(ReadError) -> Int {
            skip()
            var digits = ""
            while i < s.count, ("0"..."9").contains(s[i]) || s[i] == "-" { digits.unicodeScalars.append(s[i]); i += 1 }
            if i < s.count, s[i] == "L" { i += 1 }
            guard let v = Int(digits) else { throw ReadError("malformed .npy header: \(text)") }
            return v
        }
        func value() throws(ReadError) -> PythonLiteral {
            skip()
            guard i < s.count else { throw ReadError("malformed .npy header: \(text)") }
            switch s[i] {
            case "'", "\"": return .string(try string())
            case "T", "F":
                for word in ["True", "False"] {
                    let w = Array(word.unicodeScalars)
                    if i + w.count <= s.count, Array(s[i..<i + w.count]) == w {
                        i += w.count
                        return .bool(word == "True")
                    }
                }
                throw ReadError("malformed .npy header: \(text)")
            case "(":
                i += 1
                var items: [Int] = []
                while true {
                    skip()
                    if i < s.count, s[i] == ")" { i += 1; break }
                    items.append(try integer())
                    skip()
                    if i < s.count, s[i] == "," { i += 1 }
                }
                return .tuple(items)
            case "[":
                throw ReadError("the .npy holds a structured array, not plain latents")
            default:
                return .int(try integer())
            }
        }
        var result: [String: PythonLiteral] = [:]
        try expect("{")
        while true {
            skip()
            if i < s.count, s[i] == "}" { break }
            let key = try string()
            try expect(":")
            result[key] = try value()
            skip()
            if i < s.count, s[i] == "," { i += 1 }
        }
        return result
    }
}
