import LatentStats
import NpyFormat

/// An `.npy` push body's header, under the daemon's policy: little-endian
/// float16/32/64 in C order (dtype and shape then come from the header).
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

    static func unsupported(_ m: String) -> Failure { Failure(code: "unsupported_npy", description: m) }

    /// Parses the header at the start of `bytes`.
    public init(_ bytes: UnsafeRawBufferPointer) throws(Failure) {
        let file: NpyFileHeader
        do { file = try NpyFileHeader(bytes) } catch {
            switch error.kind {
            case .malformed:
                throw Failure(code: "invalid_npy", description: "\(error.description); send np.save output with Content-Type application/x-npy, or raw bytes with Content-Type application/octet-stream")
            case .unsupported:
                throw Self.unsupported(error.description)
            }
        }
        if file.fortranOrder {
            throw Self.unsupported(".npy array is in Fortran order; save np.ascontiguousarray(x) instead")
        }
        switch file.descr {
        case "<f2": dtype = .float16
        case "<f4": dtype = .float32
        case "<f8": dtype = .float64
        default:
            throw Self.unsupported(".npy dtype \(file.descr) is not supported; use little-endian float16, float32 or float64 (<f2, <f4, <f8), or send bfloat16 as raw bytes with dtype=bfloat16")
        }
        shape = file.shape
        dataOffset = file.dataOffset
    }
}
