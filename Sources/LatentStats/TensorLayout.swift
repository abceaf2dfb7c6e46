/// The validated geometry of a pushed tensor, seen as `[samples][outer][channels][inner]`.
///
/// Axis 0 is the sample axis. `outer` is the product of the dimensions between the
/// sample axis and the channel axis, `inner` the product of those after it, so
/// `(N, C, H, W)` with channel axis 1 has `outer == 1`, `inner == H*W`, and
/// `(N, H, W, C)` with channel axis -1 has `outer == H*W`, `inner == 1`.
public struct TensorLayout: Sendable, Equatable {
    public let shape: [Int]
    public let dtype: DType
    /// The channel axis as a non-negative index (≥ 1).
    public let channelAxis: Int
    public let samples: Int
    public let outer: Int
    public let channels: Int
    public let inner: Int
    /// Elements in the whole tensor.
    public let elementCount: Int

    /// Validates `shape` and `channelAxis` (negative counts from the end).
    public init(shape: [Int], dtype: DType, channelAxis: Int = 1) throws(TensorError) {
        guard shape.count >= 2 else { throw .tooFewDimensions(shape) }
        if shape.contains(where: { $0 < 0 }) { throw .negativeDimension(shape) }
        if shape.contains(0) { throw .zeroSizedDimension(shape) }
        var count = 1
        for d in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { throw .elementCountOverflow(shape) }
            count = product
        }
        guard !count.multipliedReportingOverflow(by: dtype.size).overflow else {
            throw .elementCountOverflow(shape)
        }
        let rank = shape.count
        guard channelAxis >= -rank && channelAxis < rank else {
            throw .channelAxisOutOfRange(axis: channelAxis, rank: rank)
        }
        let axis = channelAxis < 0 ? channelAxis + rank : channelAxis
        guard axis != 0 else { throw .channelAxisIsSampleAxis }
        self.shape = shape
        self.dtype = dtype
        self.channelAxis = axis
        self.samples = shape[0]
        self.outer = shape[1..<axis].reduce(1, *)
        self.channels = shape[axis]
        self.inner = shape[(axis + 1)...].reduce(1, *)
        self.elementCount = count
    }

    /// Bytes the tensor occupies.
    public var byteCount: Int { elementCount * dtype.size }
    /// Elements in one sample.
    public var elementsPerSample: Int { outer * channels * inner }
    /// Positions (observations of the channel vector) in one sample.
    public var positionsPerSample: Int { outer * inner }

    /// Checks that a body of `length` bytes holds exactly this tensor.
    public func checkLength(_ length: Int) throws(TensorError) {
        guard length == byteCount else {
            throw .lengthMismatch(expected: byteCount, actual: length, shape: shape, dtype: dtype)
        }
    }
}
