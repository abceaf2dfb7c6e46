/// The element types a pushed tensor may have. All are little-endian IEEE formats.
public enum DType: String, Sendable, CaseIterable, Codable {
    case float32, float16, bfloat16, float64

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .float16, .bfloat16: 2
        case .float32: 4
        case .float64: 8
        }
    }

    /// Parses a dtype name as used in the protocol's `dtype=` query.
    ///
    /// Accepts the protocol names plus the common aliases people type
    /// (`f32`, `fp16`, `half`, `bf16`, `double`, numpy's `<f4`).
    public init(parsing text: String) throws(TensorError) {
        switch text.lowercased() {
        case "float32", "f32", "fp32", "float", "<f4": self = .float32
        case "float16", "f16", "fp16", "half", "<f2": self = .float16
        case "bfloat16", "bf16": self = .bfloat16
        case "float64", "f64", "fp64", "double", "<f8": self = .float64
        default: throw .unknownDType(text)
        }
    }
}
