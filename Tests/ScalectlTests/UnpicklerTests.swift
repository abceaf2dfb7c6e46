import Foundation
import Testing
@testable import ScalectlCore

/// A canonical text for a value, written the same way by the Python side.
func canon(_ v: PickleValue) -> String {
    switch v {
    case .none: return "None"
    case let .bool(b): return b ? "True" : "False"
    case let .int(i): return String(i)
    case let .float(d): return "f\(d.bitPattern)"
    case let .string(s): return "'" + s + "'"
    case let .bytes(b): return "b" + b.map { String(format: "%02x", $0) }.joined()
    case let .tuple(t): return "(" + t.map(canon).joined(separator: ",") + ")"
    case let .list(l): return "[" + l.items.map(canon).joined(separator: ",") + "]"
    case let .dict(d): return "{" + d.items.map { canon($0.key) + ":" + canon($0.value) }.joined(separator: ",") + "}"
    case let .global(g): return g.pythonName
    case let .storage(s): return "storage(\(s.dtype.rawValue),\(s.key),\(s.location),\(s.count))"
    case let .tensor(t): return "tensor(\(canon(.storage(t.storage))),\(t.offset),\(t.size),\(t.stride))"
    }
}

/// Pickles that Python's own pickler wrote, at every protocol.
final class PickleFixtures: Sendable {
    let dir: TempDir
    let manifest: JSONValue

    static let shared: Result<PickleFixtures, any Error> = Result { try PickleFixtures() }

    private init() throws {
        dir = try TempDir()
        try Proc.python(Self.script, cwd: dir.path)
        manifest = try JSONValue(parsing: String(contentsOfFile: dir.file("manifest.json"), encoding: .utf8))
    }

    static let script = #"""
import collections, json, pickle, struct, sys
def canon(v):
    if v is None: return "None"
    if isinstance(v, bool): return "True" if v else "False"
    if isinstance(v, int): return str(v)
    if isinstance(v, float): return "f" + str(struct.unpack('<Q', struct.pack('<d', v))[0])
    if isinstance(v, str): return "'" + v + "'"
    if isinstance(v, bytes): return "b" + v.hex()
    if isinstance(v, tuple): return "(" + ",".join(map(canon, v)) + ")"
    if isinstance(v, list): return "[" + ",".join(map(canon, v)) + "]"
    if isinstance(v, dict): return "{" + ",".join(canon(k) + ":" + canon(x) for k, x in v.items()) + "}"
    raise TypeError(v)
shared = [1, 2]
value = {"latents": [1, -1, 255, 256, 65535, 65536, -2**31, 2**31, 2**40, -2**63, 2**63 - 1],
         "f": [0.0, -0.5, 3.25, 1e-300, float("inf")], "s": ["", "x", "naïve", "a" * 300],
         "t": (), "t1": (1,), "t2": (1, 2), "t3": (1, 2, 3), "t4": (1, 2, 3, 4), "n": None, "b": [True, False],
         "nested": {"k": [[], {}, ((),)], 7: "int key"}, "same": [shared, shared],
         "od": collections.OrderedDict([("a", 1), ("b", 2)])}
m = {}
for p in range(6):
    v = dict(value)
    if p >= 3:
        v["bytes"] = [b"", b"\x00\xff" * 10, b"z" * 300]
    open(f"p{p}.pkl", "wb").write(pickle.dumps(v, protocol=p))
    m[f"p{p}.pkl"] = canon(v)
json.dump(m, open("manifest.json", "w"))
"""#
}

@Suite("restricted unpickler")
struct UnpicklerTests {
    @Test(arguments: 0...5)
    func readsWhatPythonWrites(_ protocolVersion: Int) throws {
        let fx = try PickleFixtures.shared.get()
        let name = "p\(protocolVersion).pkl"
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: fx.dir.file(name))))
        let value = try RestrictedUnpickler.load(bytes)
        #expect(canon(value) == fx.manifest[name]?.string)
    }

    @Test func everyTruncationIsAnErrorNotACrash() throws {
        let fx = try PickleFixtures.shared.get()
        for p in [0, 2, 5] {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: fx.dir.file("p\(p).pkl"))))
            for n in 0..<bytes.count {
                #expect(throws: ReadError.self, "protocol \(p), \(n) bytes") { try RestrictedUnpickler.load(Array(bytes[..<n])) }
            }
        }
    }

    /// Hostile pickles, written by hand: each names a global that would run
    /// code under pickle.load, and the message names it.
    @Test(arguments: [
        ("cos\nsystem\n(S'touch /tmp/pwned'\ntR.", "os.system"),
        ("\u{80}\u{02}cposix\nsystem\nq\u{00}X\u{03}\u{00}\u{00}\u{00}lolq\u{01}\u{85}R.", "posix.system"),
        ("\u{80}\u{04}\u{8C}\u{08}builtins\u{8C}\u{04}eval\u{93}\u{8C}\u{01}1\u{85}R.", "builtins.eval"),
        ("(S'ls'\nisubprocess\ncheck_output\n.", "subprocess.check_output"),
        ("\u{80}\u{02}ctorch\nIntStorage\n.", "torch.IntStorage"),
        ("\u{80}\u{02}ctorch._utils\n_rebuild_parameter\n.", "torch._utils._rebuild_parameter"),
        ("\u{80}\u{02}ctorch.nn.modules.linear\nLinear\n.", "torch.nn.modules.linear.Linear"),
    ])
    func refusesGlobals(_ pickle: String, _ name: String) {
        let bytes = pickle.unicodeScalars.map { UInt8($0.value) }
        let error = #expect(throws: ReadError.self) { try RestrictedUnpickler.load(bytes) }
        #expect(error?.message == "refusing to unpickle '\(name)': only tensors and containers are read")
    }

    @Test(arguments: [
        ("\u{80}\u{02}}q\u{00}N\u{62}.", "BUILD"),
        ("\u{80}\u{02}\u{82}\u{01}.", "extension code"),
        ("\u{80}\u{04}\u{8F}.", "set"),
        ("\u{80}\u{02}X\u{01}\u{00}\u{00}\u{00}xP1\n.", "persistent id"),
        ("\u{80}\u{02}(X\u{07}\u{00}\u{00}\u{00}storagectorch\nFloatStorage\nX\u{01}\u{00}\u{00}\u{00}0X\u{03}\u{00}\u{00}\u{00}cpuK\u{04}tQ)\u{85}R.", "malformed pickle"),
        ("\u{80}\u{06}N.", "protocol 6"),
        ("\u{80}\u{02}\u{FF}.", "unknown opcode 0xff"),
    ])
    func refusesEverythingElse(_ pickle: String, _ fragment: String) {
        let bytes = pickle.unicodeScalars.map { UInt8($0.value) }
        let error = #expect(throws: ReadError.self) { try RestrictedUnpickler.load(bytes) }
        #expect(error?.message.contains(fragment) == true, "\(error?.message ?? "no error")")
    }

    @Test func deepNestingAndSelfReferenceAreRefused() throws {
        // A million nested 1-tuples is a megabyte; releasing it would recurse a million frames.
        let deep: [UInt8] = [0x80, 0x02, 0x29] + [UInt8](repeating: 0x85, count: 1_000_000) + [0x2E]
        let error = #expect(throws: ReadError.self) { try RestrictedUnpickler.load(deep) }
        #expect(error?.message.contains("more than 100 deep") == true, "\(error?.message ?? "")")
        // 99 levels are fine.
        let ok: [UInt8] = [0x80, 0x02, 0x29] + [UInt8](repeating: 0x85, count: 98) + [0x2E]
        #expect(canon(try RestrictedUnpickler.load(ok)).hasPrefix(String(repeating: "(", count: 99)))
        // l = []; l.append(l), as pickle writes it; and a dict put into itself.
        for cyclic in ["\u{80}\u{02}]q\u{00}h\u{00}a.", "\u{80}\u{02}}q\u{00}X\u{01}\u{00}\u{00}\u{00}kh\u{00}s."] {
            let error = #expect(throws: ReadError.self) { try RestrictedUnpickler.load(cyclic.unicodeScalars.map { UInt8($0.value) }) }
            #expect(error?.message.contains("self-referencing") == true, "\(error?.message ?? "")")
        }
    }

    @Test func tensorRebuildBecomesADescription() throws {
        // torch.save(x[1].t(), f) for x of shape (2, 3, 4), as torch writes it.
        let pickle = "\u{80}\u{02}ctorch._utils\n_rebuild_tensor_v2\nq\u{00}((X\u{07}\u{00}\u{00}\u{00}storageq\u{01}ctorch\nHalfStorage\nq\u{02}X\u{01}\u{00}\u{00}\u{00}0q\u{03}X\u{06}\u{00}\u{00}\u{00}cuda:0q\u{04}K\u{18}tq\u{05}QK\u{0C}K\u{04}K\u{03}\u{86}q\u{06}K\u{01}K\u{04}\u{86}q\u{07}\u{89}ccollections\nOrderedDict\nq\u{08})Rq\u{09}tq\u{0A}Rq\u{0B}."
        let value = try RestrictedUnpickler.load(pickle.unicodeScalars.map { UInt8($0.value) })
        guard case let .tensor(t) = value else { Issue.record("not a tensor: \(canon(value))"); return }
        #expect(t == TorchTensorRef(storage: TorchStorageRef(dtype: .float16, key: "0", location: "cuda:0", count: 24),
                                    offset: 12, size: [4, 3], stride: [1, 4]))
    }
}
