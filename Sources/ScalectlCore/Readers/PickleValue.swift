/// What the restricted unpickler builds: Python's primitives and
/// containers, plus the few torch objects that a `torch.save` of tensors
/// needs. Nothing here is ever called; torch's rebuild functions become
/// plain descriptions (`TorchTensorRef`) that the reader resolves itself.
public indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    /// Lists and dicts are shared references, as in Python: a memoized list
    /// is filled by `APPENDS` after it was stored.
    case list(PickleList)
    case dict(PickleDict)
    /// A global the reader allows, named but not yet applied.
    case global(PickleGlobal)
    /// A storage named by a persistent id.
    case storage(TorchStorageRef)
    case tensor(TorchTensorRef)

    /// The Python type name, for messages.
    public var typeName: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case let .global(g): return g.pythonName
        case .storage: return "storage"
        case .tensor: return "tensor"
        }
    }
}

public final class PickleList {
    public var items: [PickleValue]
    /// The unpickler's bookkeeping: nesting depth, and whether the list is
    /// inside another container (and so no longer changes).
    var depth = 1
    var sealed = false
    public init(_ items: [PickleValue] = []) { self.items = items }
}

/// A dict (or `collections.OrderedDict`) in insertion order.
public final class PickleDict {
    public var items: [(key: PickleValue, value: PickleValue)] = []
    /// As for `PickleList`.
    var depth = 1
    var sealed = false
    public init() {}

    /// Sets `key`, replacing an existing string or int key as Python would.
    public func set(_ key: PickleValue, _ value: PickleValue) {
        if let i = items.firstIndex(where: { Self.sameKey($0.key, key) }) {
            items[i].value = value
        } else {
            items.append((key, value))
        }
    }

    public subscript(_ key: String) -> PickleValue? {
        items.first { if case let .string(k) = $0.key { return k == key } else { return false } }?.value
    }

    /// The string keys, in order.
    public var stringKeys: [String] {
        items.compactMap { if case let .string(k) = $0.key { return k } else { return nil } }
    }

    static func sameKey(_ a: PickleValue, _ b: PickleValue) -> Bool {
        switch (a, b) {
        case let (.string(x), .string(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.bool(x), .bool(y)): return x == y
        default: return false
        }
    }
}

/// The globals a `torch.save` of plain tensors refers to; every other
/// global is refused when the pickle names it.
public enum PickleGlobal: Equatable, Sendable {
    case rebuildTensorV2
    case orderedDict
    case storageType(DType)

    /// Looks up `module.name`; nil for anything not allowed.
    public init?(module: String, name: String) {
        switch (module, name) {
        case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
        case ("collections", "OrderedDict"): self = .orderedDict
        case ("torch", "FloatStorage"): self = .storageType(.float32)
        case ("torch", "HalfStorage"): self = .storageType(.float16)
        case ("torch", "BFloat16Storage"): self = .storageType(.bfloat16)
        case ("torch", "DoubleStorage"): self = .storageType(.float64)
        default: return nil
        }
    }

    public var pythonName: String {
        switch self {
        case .rebuildTensorV2: return "torch._utils._rebuild_tensor_v2"
        case .orderedDict: return "collections.OrderedDict"
        case .storageType(.float32): return "torch.FloatStorage"
        case .storageType(.float16): return "torch.HalfStorage"
        case .storageType(.bfloat16): return "torch.BFloat16Storage"
        case .storageType(.float64): return "torch.DoubleStorage"
        }
    }
}

/// A storage record of a zip-format `torch.save`: the file
/// `{archive}/data/{key}` holding `count` elements of `dtype`.
public struct TorchStorageRef: Equatable, Sendable {
    public var dtype: DType
    public var key: String
    public var location: String
    public var count: Int
}

/// A tensor as `_rebuild_tensor_v2` describes it: a view of a storage with
/// an element offset, a size and strides (in elements).
public struct TorchTensorRef: Equatable, Sendable {
    public var storage: TorchStorageRef
    public var offset: Int
    public var size: [Int]
    public var stride: [Int]
}
