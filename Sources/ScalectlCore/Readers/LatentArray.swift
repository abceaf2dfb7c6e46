/// Element types the daemon accepts, named as in its `dtype=` query.
public enum DType: String, Sendable, CaseIterable {
    case float16, bfloat16, float32, float64

    public var size: Int {
        switch self {
        case .float16, .bfloat16: return 2
        case .float32: return 4
        case .float64: return 8
        }
    }
}

/// One array read from a file: C-contiguous, little-endian bytes, exactly as
/// the daemon wants them in a raw `application/octet-stream` push.
public struct LatentArray: Sendable {
    public var dtype: DType
    public var shape: [Int]
    public var bytes: [UInt8]

    public init(dtype: DType, shape: [Int], bytes: [UInt8]) {
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    public var elementCount: Int { shape.reduce(1, *) }
}

/// Why a file could not be read as latents; the message names the file's
/// problem, and the caller adds the path.
public struct ReadError: Error, CustomStringConvertible, Equatable, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// How many elements a shape holds, refusing shapes whose byte count would
/// overflow (a corrupt header must not crash the reader).
func checkedByteCount(_ shape: [Int], elementSize: Int) throws(ReadError) -> Int {
    var total = elementSize
    for d in shape {
        guard d >= 0 else { throw ReadError("negative dimension in shape \(shape)") }
        let (product, overflow) = total.multipliedReportingOverflow(by: d)
        guard !overflow else { throw ReadError("shape \(shape) is too large") }
        total = product
    }
    return total
}

extension LatentArray {
    /// The shape to push: `(C,H,W)` is one sample as kohya caches store
    /// them, four or more axes already lead with the sample axis, and
    /// `singleSample` makes every file one sample (video latents `(C,T,H,W)`).
    public static func sampleFirstShape(_ shape: [Int], singleSample: Bool) throws(ReadError) -> [Int] {
        if singleSample {
            guard !shape.isEmpty else { throw ReadError("a scalar is not a latent tensor") }
            return [1] + shape
        }
        switch shape.count {
        case 0, 1: throw ReadError("an array of shape \(shape) has too few axes for latents (need (C,H,W) or (N,C,...))")
        case 3: return [1] + shape
        default: return shape
        }
    }

    /// Picks the array to read from a multi-array file: `requested` when
    /// given; otherwise `latents`, then a single `latents_*` key (kohya's
    /// multi-resolution caches), then the only array there is.
    public static func selectKey(available: [String], requested: String?) throws(ReadError) -> String {
        let listing = available.sorted().joined(separator: ", ")
        if let requested {
            guard available.contains(requested) else {
                throw ReadError("no array named '\(requested)' (it has: \(listing))")
            }
            return requested
        }
        if available.contains("latents") { return "latents" }
        let prefixed = available.filter { $0.hasPrefix("latents_") }
        if prefixed.count == 1 { return prefixed[0] }
        if available.count == 1 { return available[0] }
        if available.isEmpty { throw ReadError("the file holds no arrays") }
        throw ReadError("no array named 'latents'; choose one with --key (it has: \(listing))")
    }
}

/// Reverses the axes of a C-ordered array: turns Fortran-ordered data into C order.
func reverseAxes(_ bytes: [UInt8], shape: [Int], elementSize: Int) -> [UInt8] {
    // Fortran data for `shape` is C data for `shape.reversed()`; transposing it
    // (reversing the axes) yields C order for `shape`.
    let n = shape.count
    guard n > 1 else { return bytes }
    let count = shape.reduce(1, *)
    guard count > 0 else { return bytes }
    let src = Array(shape.reversed())
    var srcStrides = [Int](repeating: 1, count: n)
    for i in stride(from: n - 2, through: 0, by: -1) { srcStrides[i] = srcStrides[i + 1] * src[i + 1] }
    // Destination index (i0..i_{n-1}) over `shape` reads source index (i_{n-1}..i0).
    var out = [UInt8](repeating: 0, count: bytes.count)
    var index = [Int](repeating: 0, count: n)
    out.withUnsafeMutableBytes { dst in
        bytes.withUnsafeBytes { s in
            for flat in 0..<count {
                var offset = 0
                for axis in 0..<n { offset += index[axis] * srcStrides[n - 1 - axis] }
                let from = offset * elementSize
                let to = flat * elementSize
                for b in 0..<elementSize { dst[to + b] = s[from + b] }
                var axis = n - 1
                while axis >= 0 {
                    index[axis] += 1
                    if index[axis] < shape[axis] { break }
                    index[axis] = 0
                    axis -= 1
                }
            }
        }
    }
    return out
}

/// Swaps every element's bytes: big-endian data into the little-endian wire order.
func byteSwapped(_ bytes: [UInt8], elementSize: Int) -> [UInt8] {
    var out = bytes
    var i = 0
    while i + elementSize <= out.count {
        out[i..<i + elementSize].reverse()
        i += elementSize
    }
    return out
}
