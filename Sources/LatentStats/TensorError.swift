/// Why a tensor was rejected. Every case says what to fix.
public enum TensorError: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownDType(String)
    case tooFewDimensions([Int])
    case zeroSizedDimension([Int])
    case negativeDimension([Int])
    case elementCountOverflow([Int])
    case channelAxisOutOfRange(axis: Int, rank: Int)
    case channelAxisIsSampleAxis
    case lengthMismatch(expected: Int, actual: Int, shape: [Int], dtype: DType)

    /// A short machine-readable code, used as the protocol's error code.
    public var code: String {
        switch self {
        case .unknownDType: "invalid_dtype"
        case .tooFewDimensions, .zeroSizedDimension, .negativeDimension, .elementCountOverflow: "invalid_shape"
        case .channelAxisOutOfRange, .channelAxisIsSampleAxis: "invalid_channel_axis"
        case .lengthMismatch: "length_mismatch"
        }
    }

    public var description: String {
        func s(_ shape: [Int]) -> String { "(" + shape.map(String.init).joined(separator: ",") + ")" }
        switch self {
        case .unknownDType(let t):
            return "unknown dtype '\(t)': use one of float32, float16, bfloat16, float64"
        case .tooFewDimensions(let shape):
            return "shape \(s(shape)) has \(shape.count) dimension(s); a batch needs at least 2: samples first, e.g. (batch, channels, height, width)"
        case .zeroSizedDimension(let shape):
            return "shape \(s(shape)) has a zero-sized dimension; push only non-empty batches"
        case .negativeDimension(let shape):
            return "shape \(s(shape)) has a negative dimension; dimensions are positive integers"
        case .elementCountOverflow(let shape):
            return "shape \(s(shape)) has more elements than can be addressed; check the shape"
        case .channelAxisOutOfRange(let axis, let rank):
            return "channel_axis \(axis) is out of range for a \(rank)-dimensional tensor; use 1...\(rank - 1) or -\(rank - 1)...-1"
        case .channelAxisIsSampleAxis:
            return "channel_axis resolves to axis 0, which is the sample axis; put samples first and the channels on another axis"
        case .lengthMismatch(let expected, let actual, let shape, let dtype):
            return "body has \(actual) bytes but shape \(s(shape)) of \(dtype.rawValue) needs \(expected) (\(dtype.size) bytes per element); send the tensor's raw C-contiguous bytes"
        }
    }
}
