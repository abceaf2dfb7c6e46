/// A pickle reader that executes nothing.
///
/// `pickle.load` (and `torch.load` without `weights_only`) runs whatever
/// callable the file names, so a latent cache from elsewhere can run code.
/// This reader interprets the opcodes itself and knows a handful of globals:
/// `torch._utils._rebuild_tensor_v2`, the four float storage types and
/// `collections.OrderedDict`. A pickle that names any other global is refused
/// at that opcode, before anything else is read; calls are never made, the
/// tensor rebuild becomes a `TorchTensorRef`.
///
/// Protocols 0 to 5 are read (torch writes protocol 2). A list or dict is
/// not changed once it is inside another container, as Python's pickler
/// never does for acyclic data; so cycles cannot arise and nesting depth is
/// known and bounded.
public struct RestrictedUnpickler {
    private let bytes: [UInt8]
    private var at = 0
    private var stack: [PickleValue] = []
    /// The nesting depth of each stack entry (see `maxDepth`).
    private var depths: [Int] = []
    /// Stack heights at each MARK, as CPython's metastack.
    private var marks: [Int] = []
    private var memo: [Int: (value: PickleValue, depth: Int)] = [:]

    /// Deeper nesting is refused: a few bytes per level would otherwise build
    /// values whose release recurses past the stack. Latent files nest two
    /// or three levels.
    static let maxDepth = 100

    /// Reads one pickle and returns the value STOP leaves on the stack.
    public static func load(_ bytes: [UInt8]) throws(ReadError) -> PickleValue {
        var machine = RestrictedUnpickler(bytes: bytes)
        return try machine.run()
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    static func refusal(_ name: String) -> ReadError {
        ReadError("refusing to unpickle '\(name)': only tensors and containers are read")
    }

    private mutating func run() throws(ReadError) -> PickleValue {
        while true {
            let op = try byte()
            switch op {
            case 0x80: // PROTO
                let version = try byte()
                guard version <= 5 else { throw ReadError("pickle protocol \(version) is newer than 5") }
            case 0x95: // FRAME: a length hint only
                _ = try take(8)
            case 0x2E: // STOP
                guard marks.isEmpty, !stack.isEmpty else { throw malformed("STOP with an unbalanced stack") }
                return try pop()

            // Primitives
            case 0x4E: push(.none) // NONE
            case 0x88: push(.bool(true)) // NEWTRUE
            case 0x89: push(.bool(false)) // NEWFALSE
            case 0x4B: push(.int(Int(try byte()))) // BININT1
            case 0x4D: push(.int(Int(try unsigned(2)))) // BININT2
            case 0x4A: push(.int(Int(Int32(bitPattern: UInt32(try unsigned(4)))))) // BININT
            case 0x8A: push(.int(try long(Int(try byte())))) // LONG1
            case 0x8B: push(.int(try long(try length(4)))) // LONG4
            case 0x47: push(.float(Double(bitPattern: try bigEndian(8)))) // BINFLOAT
            case 0x49: push(try textInt(try line())) // INT
            case 0x4C: // LONG
                var text = try line()
                if text.hasSuffix("L") { text.removeLast() }
                guard let v = Int(text) else { throw malformed("LONG '\(text)' does not fit 64 bits") }
                push(.int(v))
            case 0x46: // FLOAT
                let text = try line()
                guard let v = Double(text) else { throw malformed("FLOAT '\(text)'") }
                push(.float(v))
            case 0x58: push(.string(try utf8(try length(4)))) // BINUNICODE
            case 0x8C: push(.string(try utf8(Int(try byte())))) // SHORT_BINUNICODE
            case 0x8D: push(.string(try utf8(try length(8)))) // BINUNICODE8
            case 0x56: push(.string(try rawUnicodeEscape(try rawLine()))) // UNICODE
            case 0x54: push(.string(latin1(try take(try length(4))))) // BINSTRING
            case 0x55: push(.string(latin1(try take(Int(try byte()))))) // SHORT_BINSTRING
            case 0x53: push(.string(try quoted(try line()))) // STRING
            case 0x42: push(.bytes(Array(try take(try length(4))))) // BINBYTES
            case 0x43: push(.bytes(Array(try take(Int(try byte()))))) // SHORT_BINBYTES
            case 0x8E: push(.bytes(Array(try take(try length(8))))) // BINBYTES8

            // Containers
            case 0x28: marks.append(stack.count) // MARK
            case 0x29: push(.tuple([]), depth: 1) // EMPTY_TUPLE
            case 0x74: // TUPLE
                let items = try popMark()
                push(.tuple(items.map(\.value)), depth: try nest(items))
            case 0x85, 0x86, 0x87: // TUPLE1, TUPLE2, TUPLE3
                let n = Int(op - 0x84)
                guard stack.count - (marks.last ?? 0) >= n else { throw malformed("TUPLE\(n) on a short stack") }
                var items: [(value: PickleValue, depth: Int)] = []
                for _ in 0..<n { items.insert(try popEntry(), at: 0) }
                push(.tuple(items.map(\.value)), depth: try nest(items))
            case 0x5D: push(.list(PickleList())) // EMPTY_LIST
            case 0x6C: // LIST
                let items = try popMark()
                let l = PickleList(items.map(\.value))
                l.depth = try nest(items)
                push(.list(l))
            case 0x61: // APPEND
                let item = try popEntry()
                try append([item], to: top())
            case 0x65: // APPENDS
                let items = try popMark()
                try append(items, to: top())
            case 0x7D: push(.dict(PickleDict())) // EMPTY_DICT
            case 0x64: // DICT
                let items = try popMark()
                let d = PickleDict()
                try setItems(items, in: .dict(d))
                push(.dict(d))
            case 0x73: // SETITEM
                let value = try popEntry(), key = try popEntry()
                try setItems([key, value], in: top())
            case 0x75: // SETITEMS
                let items = try popMark()
                try setItems(items, in: top())

            // Stack and memo
            case 0x30: _ = try pop() // POP
            case 0x31: _ = try popMark() // POP_MARK
            case 0x32: // DUP
                let e = try topEntry()
                push(e.value, depth: e.depth)
            case 0x71: memo[Int(try byte())] = try topEntry() // BINPUT
            case 0x72: memo[Int(try unsigned(4))] = try topEntry() // LONG_BINPUT
            case 0x70: memo[try decimal(try line())] = try topEntry() // PUT
            case 0x94: memo[memo.count] = try topEntry() // MEMOIZE
            case 0x68: try recall(Int(try byte())) // BINGET
            case 0x6A: try recall(Int(try unsigned(4))) // LONG_BINGET
            case 0x67: try recall(try decimal(try line())) // GET

            // Globals and calls: only the allowed ones, and never really called.
            case 0x63: // GLOBAL
                let module = try line(), name = try line()
                push(.global(try allowed(module, name)))
            case 0x93: // STACK_GLOBAL
                let name = try pop(), module = try pop()
                guard case let .string(m) = module, case let .string(n) = name else {
                    throw malformed("STACK_GLOBAL without two strings")
                }
                push(.global(try allowed(m, n)))
            case 0x69: // INST: module and class inline, arguments from the mark
                let module = try line(), name = try line()
                let global = try allowed(module, name)
                let items = try popMark()
                try push(apply(global, items.map(\.value), depth: nest(items)))
            case 0x6F: // OBJ: class and arguments from the mark
                var items = try popMark()
                guard !items.isEmpty else { throw malformed("OBJ without a class") }
                let cls = items.removeFirst()
                try push(apply(callable(cls.value), items.map(\.value), depth: nest(items)))
            case 0x52: // REDUCE
                let args = try popEntry(), function = try pop()
                guard case let .tuple(items) = args.value else { throw malformed("REDUCE arguments are a \(args.value.typeName), not a tuple") }
                try push(apply(callable(function), items, depth: nest([args])))
            case 0x81: // NEWOBJ
                let args = try popEntry(), cls = try pop()
                guard case let .tuple(items) = args.value else { throw malformed("NEWOBJ arguments are not a tuple") }
                try push(apply(callable(cls), items, depth: nest([args])))
            case 0x92: // NEWOBJ_EX
                _ = try pop()
                let args = try popEntry(), cls = try pop()
                guard case let .tuple(items) = args.value else { throw malformed("NEWOBJ_EX arguments are not a tuple") }
                try push(apply(callable(cls), items, depth: nest([args])))
            case 0x51: // BINPERSID
                try push(persistent(pop()))
            case 0x50: // PERSID
                throw ReadError("the pickle uses a text persistent id (PERSID), which torch.save does not write; only tensors and containers are read")
            case 0x62: // BUILD
                let state = try pop()
                throw ReadError("refusing to set object state (BUILD with a \(state.typeName)) on a \(try top().typeName): only tensors and containers are read")
            case 0x82, 0x83, 0x84: // EXT1, EXT2, EXT4
                throw ReadError("refusing to unpickle a copyreg extension code: only tensors and containers are read")
            case 0x8F, 0x90, 0x91: // EMPTY_SET, ADDITEMS, FROZENSET
                throw ReadError("the pickle holds a set: only tensors, dicts, lists, tuples and primitives are read")
            case 0x96, 0x97, 0x98: // BYTEARRAY8, NEXT_BUFFER, READONLY_BUFFER
                throw ReadError("the pickle uses out-of-band buffers (protocol 5): only tensors and containers are read")
            default:
                throw malformed(String(format: "unknown opcode 0x%02x at byte %d", op, at - 1))
            }
        }
    }

    // MARK: Calls

    private func allowed(_ module: String, _ name: String) throws(ReadError) -> PickleGlobal {
        guard let global = PickleGlobal(module: module, name: name) else { throw Self.refusal("\(module).\(name)") }
        return global
    }

    private func callable(_ value: PickleValue) throws(ReadError) -> PickleGlobal {
        guard case let .global(g) = value else { throw malformed("a call on a \(value.typeName), not a global") }
        return g
    }

    /// What calling an allowed global would give, built without calling it;
    /// `depth` is that of the arguments, nested.
    private func apply(_ global: PickleGlobal, _ args: [PickleValue], depth: Int) throws(ReadError) -> PickleValue {
        switch global {
        case .orderedDict:
            let d = PickleDict()
            d.depth = max(1, depth)
            if let first = args.first {
                // OrderedDict([(k, v), ...])
                guard args.count == 1, case let .list(list) = first else {
                    throw malformed("OrderedDict called with \(args.count) arguments")
                }
                for item in list.items {
                    guard case let .tuple(pair) = item, pair.count == 2 else { throw malformed("OrderedDict item is not a pair") }
                    d.set(pair[0], pair[1])
                }
            }
            return .dict(d)
        case .rebuildTensorV2:
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            guard args.count >= 4, args.count <= 7 else {
                throw malformed("_rebuild_tensor_v2 called with \(args.count) arguments")
            }
            guard case let .storage(storage) = args[0] else {
                throw malformed("_rebuild_tensor_v2 over a \(args[0].typeName), not a storage")
            }
            guard case let .int(offset) = args[1], let size = ints(args[2]), let stride = ints(args[3]) else {
                throw malformed("_rebuild_tensor_v2 with a malformed offset, size or stride")
            }
            return .tensor(TorchTensorRef(storage: storage, offset: offset, size: size, stride: stride))
        case .storageType:
            throw ReadError("refusing to construct '\(global.pythonName)' directly: only storages saved by torch.save are read")
        }
    }

    /// torch.save's persistent id: `('storage', <storage type>, key, location, numel)`.
    private func persistent(_ pid: PickleValue) throws(ReadError) -> PickleValue {
        guard case let .tuple(t) = pid, t.count == 5, case .string("storage") = t[0] else {
            throw ReadError("the pickle refers to a persistent object that is not a torch storage: only tensors and containers are read")
        }
        guard case let .global(.storageType(dtype)) = t[1] else {
            throw ReadError("a storage of type \(t[1].typeName): latents must be FloatStorage, HalfStorage, BFloat16Storage or DoubleStorage")
        }
        guard case let .string(key) = t[2], case let .string(location) = t[3], case let .int(count) = t[4], count >= 0 else {
            throw malformed("storage record with a malformed key, location or size")
        }
        return .storage(TorchStorageRef(dtype: dtype, key: key, location: location, count: count))
    }

    private func ints(_ value: PickleValue) -> [Int]? {
        guard case let .tuple(items) = value else { return nil }
        var out: [Int] = []
        for item in items {
            guard case let .int(v) = item else { return nil }
            out.append(v)
        }
        return out
    }

    // MARK: Stack

    private func malformed(_ what: String) -> ReadError { ReadError("malformed pickle: \(what)") }

    private mutating func push(_ value: PickleValue, depth: Int = 0) {
        stack.append(value)
        depths.append(depth)
    }

    private mutating func popEntry() throws(ReadError) -> (value: PickleValue, depth: Int) {
        guard stack.count > (marks.last ?? 0), let v = stack.popLast(), let d = depths.popLast() else {
            throw malformed("pop from an empty stack")
        }
        return (v, d)
    }

    private mutating func pop() throws(ReadError) -> PickleValue { try popEntry().value }

    private func topEntry() throws(ReadError) -> (value: PickleValue, depth: Int) {
        guard stack.count > (marks.last ?? 0), let v = stack.last, let d = depths.last else { throw malformed("empty stack") }
        return (v, d)
    }

    private func top() throws(ReadError) -> PickleValue { try topEntry().value }

    private mutating func popMark() throws(ReadError) -> [(value: PickleValue, depth: Int)] {
        guard let mark = marks.popLast() else { throw malformed("no MARK") }
        let items = (mark..<stack.count).map { (stack[$0], depths[$0]) }
        stack.removeLast(stack.count - mark)
        depths.removeLast(depths.count - mark)
        return items
    }

    private mutating func recall(_ index: Int) throws(ReadError) {
        guard let e = memo[index] else { throw malformed("memo \(index) was never stored") }
        push(e.value, depth: e.depth)
    }

    /// The depth of a container holding `items`, sealing the lists and dicts
    /// among them: they are not to change from now on.
    private func nest(_ items: [(value: PickleValue, depth: Int)]) throws(ReadError) -> Int {
        var deepest = 0
        for item in items {
            switch item.value {
            case let .list(l):
                l.sealed = true
                deepest = max(deepest, l.depth)
            case let .dict(d):
                d.sealed = true
                deepest = max(deepest, d.depth)
            default:
                deepest = max(deepest, item.depth)
            }
        }
        guard deepest < Self.maxDepth else {
            throw ReadError("the pickle nests containers more than \(Self.maxDepth) deep; latent files do not")
        }
        return deepest + 1
    }

    private func append(_ items: [(value: PickleValue, depth: Int)], to target: PickleValue) throws(ReadError) {
        guard case let .list(l) = target else { throw malformed("APPEND to a \(target.typeName)") }
        let depth = try nest(items)  // first: a list appended to itself is sealed by this
        guard !l.sealed else { throw unsupportedChange }
        l.depth = max(l.depth, depth)
        l.items.append(contentsOf: items.map(\.value))
    }

    private func setItems(_ items: [(value: PickleValue, depth: Int)], in target: PickleValue) throws(ReadError) {
        guard case let .dict(d) = target else { throw malformed("SETITEM on a \(target.typeName)") }
        guard items.count % 2 == 0 else { throw malformed("odd number of items for a dict") }
        let depth = try nest(items)
        guard !d.sealed else { throw unsupportedChange }
        d.depth = max(d.depth, depth)
        for i in stride(from: 0, to: items.count, by: 2) { d.set(items[i].value, items[i + 1].value) }
    }

    private var unsupportedChange: ReadError {
        ReadError("the pickle changes a list or dict after nesting it (a self-referencing structure): only plain tensors and containers are read")
    }

    // MARK: Bytes

    private mutating func byte() throws(ReadError) -> UInt8 {
        guard at < bytes.count else { throw malformed("ends before STOP") }
        defer { at += 1 }
        return bytes[at]
    }

    private mutating func take(_ n: Int) throws(ReadError) -> ArraySlice<UInt8> {
        guard n >= 0, n <= bytes.count - at else { throw malformed("a \(n)-byte field runs past the end") }
        defer { at += n }
        return bytes[at..<(at + n)]
    }

    private mutating func unsigned(_ n: Int) throws(ReadError) -> UInt64 {
        var v: UInt64 = 0
        for (i, b) in try take(n).enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        return v
    }

    private mutating func bigEndian(_ n: Int) throws(ReadError) -> UInt64 {
        var v: UInt64 = 0
        for b in try take(n) { v = v << 8 | UInt64(b) }
        return v
    }

    private mutating func length(_ n: Int) throws(ReadError) -> Int {
        let v = try unsigned(n)
        guard v <= UInt64(bytes.count) else { throw malformed("length \(v) is larger than the pickle") }
        return Int(v)
    }

    /// A little-endian two's-complement integer of `n` bytes.
    private mutating func long(_ n: Int) throws(ReadError) -> Int {
        let field = try take(n)
        guard n > 0 else { return 0 }
        guard n <= 8 else { throw malformed("an integer of \(n) bytes does not fit 64 bits") }
        var v: UInt64 = 0
        for (i, b) in field.enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        if n < 8, field.last! & 0x80 != 0 { v |= ~0 << (8 * UInt64(n)) }
        return Int(bitPattern: UInt(v))
    }

    private mutating func rawLine() throws(ReadError) -> ArraySlice<UInt8> {
        guard let end = bytes[at...].firstIndex(of: 0x0A) else { throw malformed("a text field has no newline") }
        defer { at = end + 1 }
        return bytes[at..<end]
    }

    private mutating func line() throws(ReadError) -> String {
        String(decoding: try rawLine(), as: UTF8.self)
    }

    /// Python's raw-unicode-escape: Latin-1 bytes, with `\uXXXX` and
    /// `\UXXXXXXXX` for everything else (protocol 0 also escapes `\` and newlines so).
    private func rawUnicodeEscape(_ field: ArraySlice<UInt8>) throws(ReadError) -> String {
        var out = String.UnicodeScalarView()
        var i = field.startIndex
        while i < field.endIndex {
            let b = field[i]
            if b == 0x5C, i + 1 < field.endIndex, field[i + 1] == 0x75 || field[i + 1] == 0x55 {
                let digits = field[i + 1] == 0x75 ? 4 : 8
                let start = i + 2
                guard start + digits <= field.endIndex,
                      let code = UInt32(String(decoding: field[start..<(start + digits)], as: UTF8.self), radix: 16),
                      let scalar = Unicode.Scalar(code) else { throw malformed("a bad \\u escape in a UNICODE string") }
                out.append(scalar)
                i = start + digits
            } else {
                out.append(Unicode.Scalar(b))
                i += 1
            }
        }
        return String(out)
    }

    private mutating func utf8(_ n: Int) throws(ReadError) -> String {
        let field = try take(n)
        guard let s = String(validating: field, as: UTF8.self) else { throw malformed("a string is not UTF-8") }
        return s
    }

    private func latin1(_ field: ArraySlice<UInt8>) -> String {
        String(String.UnicodeScalarView(field.map { Unicode.Scalar($0) }))
    }

    private func decimal(_ text: String) throws(ReadError) -> Int {
        guard let v = Int(text), v >= 0 else { throw malformed("memo index '\(text)'") }
        return v
    }

    private func textInt(_ text: String) throws(ReadError) -> PickleValue {
        if text == "00" { return .bool(false) }
        if text == "01" { return .bool(true) }
        guard let v = Int(text) else { throw malformed("INT '\(text)'") }
        return .int(v)
    }

    private func quoted(_ text: String) throws(ReadError) -> String {
        guard text.count >= 2, let q = text.first, q == "'" || q == "\"", text.last == q else {
            throw malformed("STRING without quotes")
        }
        return String(text.dropFirst().dropLast())
    }
}
