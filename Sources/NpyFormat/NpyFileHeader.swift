/// The header of a NumPy `.npy` file (format versions 1–3), as written:
/// what to do with a dtype or layout is the reader's policy (the daemon takes
/// little-endian C order only; scalectl converts).
public struct NpyFileHeader: Sendable, Equatable {
    /// numpy's dtype string, e.g. `<f4`.
    public var descr: String
    public var fortranOrder: Bool
    public var shape: [Int]
    /// Offset of the array data from the start of the file.
    public var dataOffset: Int

    /// Why the header could not be read.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public enum Kind: Sendable, Equatable {
            /// Not an .npy at all, or damaged: malformed.
            case malformed
            /// A valid .npy this parser does not read (format version, structured array).
            case unsupported
        }
        public var kind: Kind
        public var description: String
    }

    static func malformed(_ m: String) -> Failure { Failure(kind: .malformed, description: m) }

    /// Parses the header at the start of `bytes`.
    public init(_ bytes: UnsafeRawBufferPointer) throws(Failure) {
        let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw Self.malformed("not a NumPy .npy file (bad magic)")
        }
        let major = bytes[6]
        let headerLength: Int, start: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            start = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw Self.malformed("truncated .npy header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            start = 12
        default:
            throw Failure(kind: .unsupported, description: "unsupported .npy format version \(major); np.save writes versions 1 to 3")
        }
        guard start + headerLength <= bytes.count else { throw Self.malformed("truncated .npy header") }
        let text = String(decoding: bytes[start..<(start + headerLength)], as: UTF8.self)
        let dict = try PythonLiteral.parseDict(text)
        guard case let .string(descr)? = dict["descr"] else {
            throw Failure(kind: .unsupported, description: "the .npy header has no simple 'descr' (structured arrays are not latents)")
        }
        guard case let .bool(fortran)? = dict["fortran_order"] else { throw Self.malformed("the .npy header has no 'fortran_order'") }
        guard case let .tuple(shape)? = dict["shape"] else { throw Self.malformed("the .npy header has no 'shape'") }
        self.descr = descr
        self.fortranOrder = fortran
        self.shape = shape
        self.dataOffset = start + headerLength
    }
}

/// The subset of Python literal syntax that `.npy` headers use:
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }`.
enum PythonLiteral: Equatable {
    case string(String)
    case bool(Bool)
    case int(Int)
    case tuple([Int])

    static func parseDict(_ text: String) throws(NpyFileHeader.Failure) -> [String: PythonLiteral] {
        var s = Array(text.unicodeScalars)
        while let last = s.last, last == "\n" || last == " " || last == "\0" { s.removeLast() }
        var i = 0
        let bad = NpyFileHeader.malformed("malformed .npy header: \(text)")
        func skip() { while i < s.count, s[i] == " " || s[i] == "\t" || s[i] == "\n" { i += 1 } }
        func expect(_ c: Unicode.Scalar) throws(NpyFileHeader.Failure) {
            skip()
            guard i < s.count, s[i] == c else { throw bad }
            i += 1
        }
        func string() throws(NpyFileHeader.Failure) -> String {
            skip()
            guard i < s.count, s[i] == "'" || s[i] == "\"" else { throw bad }
            let quote = s[i]
            i += 1
            var out = String.UnicodeScalarView()
            while i < s.count, s[i] != quote { out.append(s[i]); i += 1 }
            guard i < s.count else { throw bad }
            i += 1
            return String(out)
        }
        func integer() throws(NpyFileHeader.Failure) -> Int {
            skip()
            var digits = ""
            while i < s.count, ("0"..."9").contains(s[i]) || s[i] == "-" { digits.unicodeScalars.append(s[i]); i += 1 }
            if i < s.count, s[i] == "L" { i += 1 }
            guard let v = Int(digits) else { throw bad }
            return v
        }
        func value() throws(NpyFileHeader.Failure) -> PythonLiteral {
            skip()
            guard i < s.count else { throw bad }
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
                throw bad
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
                throw NpyFileHeader.Failure(kind: .unsupported, description: "the .npy holds a structured array, not plain latents")
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
