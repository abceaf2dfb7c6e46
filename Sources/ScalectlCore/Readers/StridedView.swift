/// A strided view into a flat buffer of elements, as torch describes a
/// tensor over its storage: an element offset, a size and a stride per axis.
public struct StridedView: Equatable, Sendable {
    public var offset: Int
    public var size: [Int]
    public var stride: [Int]

    public init(offset: Int, size: [Int], stride: [Int]) {
        self.offset = offset
        self.size = size
        self.stride = stride
    }

    public var count: Int { size.reduce(1, *) }

    /// True when the elements are one C-ordered run starting at `offset`
    /// (axes of length 1 may have any stride, as torch allows).
    public var isContiguous: Bool {
        var expected = 1
        for (d, s) in zip(size, stride).reversed() where d != 1 {
            guard s == expected else { return false }
            expected *= d
        }
        return true
    }

    /// Copies the view's elements out of `storage` (of `storageCount`
    /// elements of `elementSize` bytes) in C order. Views that reach outside
    /// the storage, negative strides and overflowing shapes are refused.
    public func gather(_ storage: [UInt8], elementSize: Int) throws(ReadError) -> [UInt8] {
        guard size.count == stride.count else {
            throw ReadError("tensor size \(size) and stride \(stride) have different lengths")
        }
        let total = try checkedByteCount(size, elementSize: elementSize)
        let storageCount = storage.count / elementSize
        guard offset >= 0 else { throw ReadError("negative storage offset \(offset)") }
        if total == 0 { return [] }
        guard stride.allSatisfy({ $0 >= 0 }) else {
            throw ReadError("tensor stride \(stride) has a negative step; save it with .contiguous()")
        }
        // The furthest element the view touches must lie inside the storage.
        var last = offset
        for (d, s) in zip(size, stride) {
            let (span, o1) = (d - 1).multipliedReportingOverflow(by: s)
            let (sum, o2) = last.addingReportingOverflow(span)
            guard !o1, !o2 else { throw ReadError("tensor size \(size) and stride \(stride) overflow") }
            last = sum
        }
        guard last < storageCount else {
            throw ReadError("tensor of size \(size), stride \(stride) at offset \(offset) reaches element \(last) of a storage of \(storageCount)")
        }
        if isContiguous {
            let start = offset * elementSize
            return Array(storage[start..<(start + total)])
        }
        var out = [UInt8](repeating: 0, count: total)
        let n = size.count
        var index = [Int](repeating: 0, count: n)
        out.withUnsafeMutableBytes { dst in
            storage.withUnsafeBytes { src in
                var source = offset
                for flat in 0..<(total / elementSize) {
                    let from = source * elementSize, to = flat * elementSize
                    for b in 0..<elementSize { dst[to + b] = src[from + b] }
                    // Odometer over the axes, moving `source` by the strides.
                    var axis = n - 1
                    while axis >= 0 {
                        index[axis] += 1
                        source += stride[axis]
                        if index[axis] < size[axis] { break }
                        source -= stride[axis] * size[axis]
                        index[axis] = 0
                        axis -= 1
                    }
                }
            }
        }
        return out
    }
}
