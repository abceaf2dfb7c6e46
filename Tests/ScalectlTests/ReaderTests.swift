import Foundation
import Testing
@testable import ScalectlCore

/// Files written by numpy and the safetensors package, generated once per
/// test run, with the bytes each should decode to (C order, little-endian)
/// or the error it should give.
final class ReaderFixtures: Sendable {
    let dir: TempDir
    let manifest: JSONValue

    static let shared: Result<ReaderFixtures, any Error> = Result { try ReaderFixtures() }

    static func get() throws -> ReaderFixtures { try shared.get() }

    private init() throws {
        dir = try TempDir()
        try Proc.python(Self.script, cwd: dir.path)
        manifest = try JSONValue(parsing: String(contentsOfFile: dir.file("manifest.json"), encoding: .utf8))
    }

    static let script = #"""
import json, numpy as np
from safetensors import TensorSpec, serialize
from safetensors.numpy import save_file
rng = np.random.default_rng(7)
m = {}
def expect(name, arr, dtype, key=None):
    a = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder('<'))
    open(name + '.bin', 'wb').write(a.tobytes())
    m[name] = {"dtype": dtype, "shape": list(arr.shape), "key": key}
def error(name, text, key=None):
    m[name] = {"error": text, "key": key}
def f(shape, dt): return (rng.standard_normal(shape) * 3 + 0.5).astype(dt)

x = f((4, 8, 8), '<f4'); np.save('c3.npy', x); expect('c3.npy', x, 'float32')
x = f((2, 4, 8, 8), '<f2'); np.save('f16.npy', x); expect('f16.npy', x, 'float16')
x = f((3, 4, 5), '<f8'); np.save('f64.npy', x); expect('f64.npy', x, 'float64')
x = f((2, 3, 4, 5), '>f4'); np.save('big.npy', x); expect('big.npy', x, 'float32')
x = np.asfortranarray(f((2, 3, 4, 5), '<f4')); np.save('fortran.npy', x); expect('fortran.npy', x, 'float32')
x = np.asfortranarray(f((2, 3, 4), '>f8')); np.save('bigfortran.npy', x); expect('bigfortran.npy', x, 'float64')
x = f((2, 4, 6, 6), '<f4')
with open('v2.npy', 'wb') as fh: np.lib.format.write_array(fh, x, version=(2, 0))
expect('v2.npy', x, 'float32')
with open('v3.npy', 'wb') as fh: np.lib.format.write_array(fh, x, version=(3, 0))
expect('v3.npy', x, 'float32')
x = f((0, 4, 8, 8), '<f4'); np.save('empty.npy', x); expect('empty.npy', x, 'float32')
np.save('int.npy', np.zeros((2, 3), np.int32)); error('int.npy', "not a float type")
np.save('complex.npy', np.zeros((2, 3), np.complex64)); error('complex.npy', "not a float type")
np.save('structured.npy', np.zeros(3, dtype=[('a', '<f4'), ('b', '<f4')])); error('structured.npy', "structured")
raw = open('c3.npy', 'rb').read(); open('truncated.npy', 'wb').write(raw[:-10]); error('truncated.npy', "truncated")
open('garbage.npy', 'wb').write(b'not numpy at all'); error('garbage.npy', "bad magic")

k = f((4, 8, 8), '<f4')
np.savez('kohya.npz', latents=k, original_size=np.array([64, 64]), crop_ltrb=np.array([0, 0, 64, 64]))
expect('kohya.npz', k, 'float32')
x = f((2, 4, 8, 8), '<f2'); np.savez_compressed('compressed.npz', latents=x); expect('compressed.npz', x, 'float16')
x = f((4, 8, 16), '<f4'); np.savez('multires.npz', latents_8x16=x, original_size=np.array([64, 128])); expect('multires.npz', x, 'float32')
a = f((2, 4, 4, 4), '<f4'); b = f((3, 4, 4, 4), '<f8')
np.savez('ambiguous.npz', a=a, b=b); error('ambiguous.npz', "--key")
np.savez('keyed.npz', a=a, b=b); expect('keyed.npz', b, 'float64', key='b')
np.savez('wrongkey.npz', a=a); error('wrongkey.npz', "no array named 'latents'", key='latents')
x = f((4, 8, 8), '<f4'); np.savez('single.npz', z=x); expect('single.npz', x, 'float32')
open('notzip.npz', 'wb').write(b'PK but not really a zip'); error('notzip.npz', "not a NumPy .npz")

x = f((2, 4, 8, 8), '<f4'); save_file({'latents': x}, 'f32.safetensors'); expect('f32.safetensors', x, 'float32')
x = f((2, 4, 8, 8), '<f2'); save_file({'latents': x}, 'f16.safetensors'); expect('f16.safetensors', x, 'float16')
x = f((4, 8, 8), '<f8'); save_file({'latents': x}, 'f64.safetensors', metadata={'format': 'np'}); expect('f64.safetensors', x, 'float64')
x = f((2, 4, 8, 8), '<f4'); u = x.view(np.uint32)
bf = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype('<u2')
open('bf16.safetensors', 'wb').write(bytes(serialize({'latents': TensorSpec(dtype='bfloat16', shape=x.shape, data_ptr=bf.ctypes.data, data_len=bf.nbytes)})))
open('bf16.safetensors.bin', 'wb').write(bf.tobytes()); m['bf16.safetensors'] = {"dtype": "bfloat16", "shape": list(x.shape), "key": None}
a = f((2, 4, 4, 4), '<f4'); b = f((1, 4, 4, 4), '<f2')
save_file({'a': a, 'b': b}, 'two.safetensors'); expect('two.safetensors', b, 'float16', key='b')
save_file({'a': a, 'b': b}, 'twodefault.safetensors'); error('twodefault.safetensors', "--key")
save_file({'latents': np.zeros((2, 3), np.int32)}, 'int.safetensors'); error('int.safetensors', "I32")
open('short.safetensors', 'wb').write(b'\x01\x02'); error('short.safetensors', "not a safetensors file")
raw = open('f32.safetensors', 'rb').read(); open('cut.safetensors', 'wb').write(raw[:-4]); error('cut.safetensors', "truncated")
json.dump(m, open('manifest.json', 'w'))
"""#

    static let names = [
        "c3.npy", "f16.npy", "f64.npy", "big.npy", "fortran.npy", "bigfortran.npy", "v2.npy", "v3.npy", "empty.npy",
        "int.npy", "complex.npy", "structured.npy", "truncated.npy", "garbage.npy",
        "kohya.npz", "compressed.npz", "multires.npz", "ambiguous.npz", "keyed.npz", "wrongkey.npz", "single.npz", "notzip.npz",
        "f32.safetensors", "f16.safetensors", "f64.safetensors", "bf16.safetensors", "two.safetensors",
        "twodefault.safetensors", "int.safetensors", "short.safetensors", "cut.safetensors",
    ]
}

extension LatentFile {
    /// The one array a file holds for `push` (these fixtures hold one each).
    static func readOne(path: String, key: String?) throws(ReadError) -> LatentArray {
        let pieces = try read(path: path, options: ReadOptions(key: key)).pieces
        guard pieces.count == 1 else { throw ReadError("expected one array, the file gave \(pieces.count)") }
        return pieces[0].array
    }
}

@Suite("file readers against numpy and safetensors")
struct ReaderTests {
    @Test(arguments: ReaderFixtures.names)
    func readsLikeNumpy(_ name: String) throws {
        let fx = try ReaderFixtures.get()
        let entry = try #require(fx.manifest[name], "the fixture script wrote no \(name)")
        let key = entry["key"]?.string
        if let message = entry["error"]?.string {
            let error = #expect(throws: ReadError.self) { try LatentFile.readOne(path: fx.dir.file(name), key: key) }
            #expect(error?.message.contains(message) == true, "\(name): \(error?.message ?? "no error")")
            return
        }
        let array = try LatentFile.readOne(path: fx.dir.file(name), key: key)
        #expect(array.dtype.rawValue == entry["dtype"]?.string)
        #expect(array.shape == entry["shape"]?.array?.compactMap(\.int))
        let expected = try Data(contentsOf: URL(fileURLWithPath: fx.dir.file(name + ".bin")))
        #expect(array.bytes == Array(expected), "\(name): bytes differ from numpy's C-order little-endian bytes")
    }

    @Test func missingFileIsAReadError() {
        let error = #expect(throws: ReadError.self) { try LatentFile.readOne(path: "/nonexistent/x.npy", key: nil) }
        #expect(error?.message.contains("no such file") == true || error?.message.contains("No such file") == true)
    }

    @Test func unknownExtensionIsAReadError() {
        #expect(throws: ReadError.self) { try LatentFile.readOne(path: "/etc/hostname", key: nil) }
    }

    @Test func directoriesAreWalkedRecursivelyInSortedOrder() throws {
        let dir = try TempDir()
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir.file("b/c"), withIntermediateDirectories: true)
        for name in ["b/c/z.npy", "b/a.npz", "a.safetensors", "b/readme.txt", "b/c/y.NPY"] {
            _ = fm.createFile(atPath: dir.file(name), contents: Data())
        }
        let (files, missing) = LatentFile.expand([dir.path, dir.file("nope"), dir.file("b/readme.txt")])
        #expect(missing == [dir.file("nope")])
        #expect(files == [dir.file("a.safetensors"), dir.file("b/a.npz"), dir.file("b/c/y.NPY"), dir.file("b/c/z.npy"),
                          dir.file("b/readme.txt")])
    }
}

@Suite("sample axis and key selection")
struct ShapeRuleTests {
    @Test(arguments: [
        ([4, 64, 64], false, [1, 4, 64, 64]),
        ([8, 4, 64, 64], false, [8, 4, 64, 64]),
        ([2, 16, 8, 32, 32], false, [2, 16, 8, 32, 32]),
        ([10, 4], false, [10, 4]),
        ([16, 8, 32, 32], true, [1, 16, 8, 32, 32]),
        ([4, 64, 64], true, [1, 4, 64, 64]),
        ([7], true, [1, 7]),
    ])
    func sampleFirst(_ shape: [Int], _ single: Bool, _ expected: [Int]) throws {
        #expect(try LatentArray.sampleFirstShape(shape, singleSample: single) == expected)
    }

    @Test func tooFewAxes() {
        #expect(throws: ReadError.self) { try LatentArray.sampleFirstShape([5], singleSample: false) }
        #expect(throws: ReadError.self) { try LatentArray.sampleFirstShape([], singleSample: true) }
    }

    @Test func keyPreference() throws {
        #expect(try LatentArray.selectKey(available: ["original_size", "latents"], requested: nil) == "latents")
        #expect(try LatentArray.selectKey(available: ["original_size", "latents_64x64"], requested: nil) == "latents_64x64")
        #expect(try LatentArray.selectKey(available: ["z"], requested: nil) == "z")
        #expect(try LatentArray.selectKey(available: ["a", "b"], requested: "b") == "b")
        #expect(throws: ReadError.self) { try LatentArray.selectKey(available: ["latents_8x8", "latents_16x16"], requested: nil) }
        #expect(throws: ReadError.self) { try LatentArray.selectKey(available: [], requested: nil) }
    }
}
