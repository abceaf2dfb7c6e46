import Foundation
import Testing
@testable import ScalectlCore

/// `.pt` files in torch.save's zip layout, each with the C-order
/// little-endian bytes it must decode to (or the error it must give). Written
/// by `Tests/e2e/torchsave_layout.py` (no torch needed), and by real
/// `torch.save` when torch is installed.
final class TorchFixtures: Sendable {
    let dir: TempDir
    let manifest: JSONValue

    static let shared: Result<TorchFixtures, any Error> = Result { try TorchFixtures() }

    private init() throws {
        dir = try TempDir()
        try Proc.python(Self.script.replacingOccurrences(of: "E2E_DIR", with: packageRoot + "/Tests/e2e"), cwd: dir.path)
        manifest = try JSONValue(parsing: String(contentsOfFile: dir.file("manifest.json"), encoding: .utf8))
    }

    static let script = #"""
import json, sys
sys.path.insert(0, "E2E_DIR")
import numpy as np
import torchsave_layout as L
from oracle import to_bf16_bits
rng = np.random.default_rng(5)
m = {}
def expect(name, arr, dtype):
    open(name + ".bin", "wb").write(np.ascontiguousarray(arr).tobytes())
    m[name] = {"dtype": dtype, "shape": list(np.shape(arr))}
def error(name, text):
    m[name] = {"error": text}
x = rng.standard_normal((4, 6, 5)).astype("<f4")
L.save(L.tensor(x), "f32.pt"); expect("f32.pt", x, "float32")
h = x.astype("<f2"); L.save(L.tensor(h), "f16.pt"); expect("f16.pt", h, "float16")
d = x.astype("<f8"); L.save({"latents": L.tensor(d), "crop": L.tensor(np.zeros(4, "<f4"))}, "dict.pt"); expect("dict.pt", d, "float64")
bits = to_bf16_bits(x)
L.save(L.Tensor(L.Storage(bits, "BFloat16Storage"), x.shape), "bf16.pt"); expect("bf16.pt", bits, "bfloat16")
# Views: a permutation and a slice at an offset of one shared storage.
big = rng.standard_normal((3, 4, 6, 5)).astype("<f4"); s = L.Storage(big)
L.save(L.Tensor(s, (5, 4, 6), (1, 30, 5), offset=120), "permuted.pt"); expect("permuted.pt", big[1].transpose(2, 0, 1), "float32")
L.save({"latents": L.Tensor(s, (4, 6, 5), offset=240), "all": L.Tensor(s, big.shape)}, "offset.pt"); expect("offset.pt", big[2], "float32")
L.save(L.Tensor(s, (4, 3, 5), (30, 10, 1), offset=5), "strided.pt"); expect("strided.pt", big[0, :, 1::2, :], "float32")
L.save({"only": L.tensor(x)}, "onlytensor.pt"); expect("onlytensor.pt", x, "float32")
L.save(L.tensor(x), "renamed.pt", archive="archive"); expect("renamed.pt", x, "float32")
L.save(L.tensor(x), "bigendian.pt", byteorder="big"); expect("bigendian.pt", x, "float32")
L.save({"a": L.tensor(x), "b": L.tensor(x)}, "twotensors.pt"); error("twotensors.pt", "choose one with --key")
L.save([L.tensor(x)], "list.pt"); error("list.pt", "holds a list")
L.save(L.Tensor(s, (4, 6, 5), offset=300), "outside.pt"); error("outside.pt", "reaches element")
open("legacy.pt", "wb").write(b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.")
error("legacy.pt", "legacy (non-zip) torch.save")
open("garbage.pt", "wb").write(b"hello"); error("garbage.pt", "not a torch.save file")
try:
    import torch
    t = torch.from_numpy(x.copy())
    torch.save(t, "torch_f32.pt"); expect("torch_f32.pt", x, "float32")
    torch.save({"latents": t.half()}, "torch_dict.pt"); expect("torch_dict.pt", h, "float16")
    torch.save(t.bfloat16(), "torch_bf16.pt"); expect("torch_bf16.pt", t.bfloat16().view(torch.int16).numpy().view("<u2"), "bfloat16")
    tb = torch.from_numpy(big.copy())
    torch.save(tb[1].permute(2, 0, 1), "torch_permuted.pt"); expect("torch_permuted.pt", big[1].transpose(2, 0, 1), "float32")
    torch.save({"latents": tb[2], "all": tb}, "torch_offset.pt"); expect("torch_offset.pt", big[2], "float32")
    torch.save(t.double(), "torch_f64.pt"); expect("torch_f64.pt", d, "float64")
    torch.save(t, "torch_legacy.pt", _use_new_zipfile_serialization=False); error("torch_legacy.pt", "legacy (non-zip)")
    torch.save(torch.zeros(3, dtype=torch.int32), "torch_int.pt"); error("torch_int.pt", "IntStorage")
    m["torch"] = True
except ImportError:
    m["torch"] = False
json.dump(m, open("manifest.json", "w"))
"""#

    static let names = [
        "f32.pt", "f16.pt", "dict.pt", "bf16.pt", "permuted.pt", "offset.pt", "strided.pt", "onlytensor.pt",
        "renamed.pt", "bigendian.pt", "twotensors.pt", "list.pt", "outside.pt", "legacy.pt", "garbage.pt",
    ]
    static let torchNames = [
        "torch_f32.pt", "torch_dict.pt", "torch_bf16.pt", "torch_permuted.pt", "torch_offset.pt", "torch_f64.pt",
        "torch_legacy.pt", "torch_int.pt",
    ]

    static var torchInstalled: Bool { (try? shared.get().manifest["torch"]?.bool) == true }
}

@Suite("torch.save files")
struct TorchSaveTests {
    func check(_ name: String) throws {
        let fx = try TorchFixtures.shared.get()
        let entry = try #require(fx.manifest[name], "the fixture script wrote no \(name)")
        if let message = entry["error"]?.string {
            let error = #expect(throws: ReadError.self) { try LatentFile.readOne(path: fx.dir.file(name), key: nil) }
            #expect(error?.message.contains(message) == true, "\(name): \(error?.message ?? "no error")")
            return
        }
        let contents = try LatentFile.read(path: fx.dir.file(name))
        #expect(contents.layout == .simpleTuner)
        let piece = try #require(contents.pieces.first)
        #expect(contents.pieces.count == 1 && piece.isOneSample)
        #expect(piece.array.dtype.rawValue == entry["dtype"]?.string)
        #expect(piece.array.shape == entry["shape"]?.array?.compactMap(\.int))
        let expected = try Data(contentsOf: URL(fileURLWithPath: fx.dir.file(name + ".bin")))
        #expect(piece.array.bytes == Array(expected), "\(name): bytes differ from numpy's C-order bytes")
    }

    @Test(arguments: TorchFixtures.names)
    func layoutWrittenWithoutTorch(_ name: String) throws { try check(name) }

    @Test(.enabled(if: TorchFixtures.torchInstalled, "torch is not installed"), arguments: TorchFixtures.torchNames)
    func realTorchSave(_ name: String) throws { try check(name) }

    @Test func keyChoosesADictEntry() throws {
        let fx = try TorchFixtures.shared.get()
        let a = try LatentFile.readOne(path: fx.dir.file("twotensors.pt"), key: "b")
        #expect(a.shape == [4, 6, 5])
        let error = #expect(throws: ReadError.self) { try LatentFile.readOne(path: fx.dir.file("twotensors.pt"), key: "c") }
        #expect(error?.message.contains("no entry named 'c' (it has: a, b)") == true, "\(error?.message ?? "")")
    }
}

@Suite("strided views")
struct StridedViewTests {
    @Test func gathersATransposeAndRefusesOutOfRange() throws {
        // storage 0..<6 as a (2, 3) matrix; its transpose is (3, 2) with stride (1, 3).
        let storage: [UInt8] = [0, 1, 2, 3, 4, 5]
        let t = StridedView(offset: 0, size: [3, 2], stride: [1, 3])
        #expect(!t.isContiguous)
        #expect(try t.gather(storage, elementSize: 1) == [0, 3, 1, 4, 2, 5])
        #expect(StridedView(offset: 1, size: [1, 5], stride: [99, 1]).isContiguous)
        #expect(try StridedView(offset: 1, size: [1, 5], stride: [99, 1]).gather(storage, elementSize: 1) == [1, 2, 3, 4, 5])
        #expect(try StridedView(offset: 0, size: [0, 4], stride: [4, 1]).gather(storage, elementSize: 1) == [])
        #expect(throws: ReadError.self) { try StridedView(offset: 2, size: [5], stride: [1]).gather(storage, elementSize: 1) }
        #expect(throws: ReadError.self) { try StridedView(offset: 5, size: [2], stride: [-1]).gather(storage, elementSize: 1) }
        #expect(throws: ReadError.self) { try StridedView(offset: 0, size: [Int.max, 2], stride: [Int.max, 1]).gather(storage, elementSize: 1) }
    }
}
