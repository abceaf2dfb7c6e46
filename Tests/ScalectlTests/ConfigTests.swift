import ScaledPaths
import Foundation
import Testing
@testable import ScalectlCore

@Suite("diffusers configs")
struct DiffusersConfigTests {
    let vae = try! JSONValue(parsing: #"""
        {"_class_name": "AutoencoderKL", "_diffusers_version": "0.31.0", "block_out_channels": [128, 256, 512, 512],
         "force_upcast": true, "latent_channels": 4, "sample_size": 512, "scaling_factor": 0.13025, "shift_factor": null}
        """#)

    @Test func mergeReplacesInPlaceAndInsertsSorted() throws {
        let keys = try JSONValue(parsing: #"{"scaling_factor": 0.18215, "latents_mean": [0.1, 0.2], "latents_std": [5, 6]}"#)
        let merged = DiffusersConfigFile.merge(keys, into: vae)
        #expect(merged.object?.map(\.0) == ["_class_name", "_diffusers_version", "block_out_channels", "force_upcast",
                                            "latent_channels", "latents_mean", "latents_std", "sample_size", "scaling_factor", "shift_factor"])
        #expect(merged["scaling_factor"] == .number("0.18215"))
        #expect(merged["block_out_channels"]?.compact == "[128,256,512,512]")
    }

    @Test func mergeAppendsWhenTheFileIsNotSorted() throws {
        let config = try JSONValue(parsing: #"{"b": 1, "a": 2}"#)
        let merged = DiffusersConfigFile.merge(try JSONValue(parsing: #"{"scaling_factor": 1.5}"#), into: config)
        #expect(merged.compact == #"{"b":1,"a":2,"scaling_factor":1.5}"#)
    }

    @Test func conflictsNameLeftoverKeys() throws {
        let config = try JSONValue(parsing: #"{"scaling_factor": 1.5305, "shift_factor": 0.0609, "latents_mean": null}"#)
        let scalar = try JSONValue(parsing: #"{"scaling_factor": 0.2}"#)
        #expect(DiffusersConfigFile.conflicts(scalar, in: config) == ["shift_factor"])
        let shift = try JSONValue(parsing: #"{"scaling_factor": 0.2, "shift_factor": 0.1}"#)
        #expect(DiffusersConfigFile.conflicts(shift, in: config).isEmpty)
    }

    @Test func readsVAEAndSchedulerKeys() throws {
        let (p, _) = ConfigPatch.fromDiffusers(vae)
        #expect(p.scalingFactor == 0.13025 && p.shiftFactor == nil && p.latentsMean == nil)
        let flux = try JSONValue(parsing: #"{"scaling_factor": 0.3611, "shift_factor": 0.1159}"#)
        #expect(ConfigPatch.fromDiffusers(flux).patch.shiftFactor == 0.1159)
        let scheduler = try JSONValue(parsing: #"{"_class_name": "DDPMScheduler", "clip_sample": true, "clip_sample_range": 1.0, "thresholding": false}"#)
        let s = ConfigPatch.fromDiffusers(scheduler).patch
        #expect(s.clipSample == true && s.clipRange == 1.0 && s.thresholding == false && s.scalingFactor == nil)
        let thresholded = try JSONValue(parsing: #"{"clip_sample": true, "thresholding": true}"#)
        let (t, notes) = ConfigPatch.fromDiffusers(thresholded)
        #expect(t.clipSample == false && t.thresholding == true && notes.count == 1)
        #expect(t.json.compact == #"{"scheduler":{"clip_sample":false,"thresholding":true}}"#)
        let playground = try JSONValue(parsing: #"{"scaling_factor": 0.5, "latents_mean": [-1.6574, 1.886], "latents_std": [8.4927, 5.9022]}"#)
        let pg = ConfigPatch.fromDiffusers(playground).patch
        #expect(pg.latentsMean == [-1.6574, 1.886] && pg.latentsStd == [8.4927, 5.9022])
    }

    @Test func patchSendsOnlyWhatWasGiven() {
        var p = ConfigPatch()
        #expect(p.json.compact == "{}")
        p.scalingFactor = 0.18215
        p.clipSample = false
        p.window = 50
        #expect(p.json.compact == #"{"reference":{"scaling_factor":0.18215},"scheduler":{"clip_sample":false},"window_batches":50}"#)
        var clear = ConfigPatch()
        clear.clearReference = true
        clear.alertFor = 2
        #expect(clear.json.compact == #"{"reference":null,"alert_for_batches":2}"#)
    }

    @Test func laterSourcesWin() {
        var a = ConfigPatch()
        a.scalingFactor = 1
        a.clipSample = true
        var b = ConfigPatch()
        b.scalingFactor = 2
        let merged = a.overridden(by: b)
        #expect(merged.scalingFactor == 2 && merged.clipSample == true)
    }

    @Test func doubleLists() {
        #expect(DoubleList("0.1,-0.2, 3")?.values == [0.1, -0.2, 3])
        #expect(DoubleList("[1,2]")?.values == [1, 2])
        #expect(DoubleList("1,,2") == nil)
        #expect(DoubleList("a") == nil)
    }

    @Test func shellExport() throws {
        let keys = try JSONValue(parsing: #"{"scaling_factor": 1, "latents_mean": [0.1, -0.2], "whitening_matrix": [[1, 0], [0, 1]]}"#)
        #expect(ShellExport.lines(keys) == ["export SCALING_FACTOR='1'", "export LATENTS_MEAN='0.1,-0.2'", "export WHITENING_MATRIX='1,0;0,1'"])
    }

    @Test func socketPathResolution() {
        #expect(SocketPath.resolve(explicit: "/x.sock", environment: ["SCALED_SOCKET": "/y"]) == "/x.sock")
        #expect(SocketPath.resolve(explicit: nil, environment: ["SCALED_SOCKET": "/y", "XDG_RUNTIME_DIR": "/run/user/1"]) == "/y")
        #expect(SocketPath.resolve(explicit: nil, environment: ["SCALED_SOCKET": "", "XDG_RUNTIME_DIR": "/run/user/1"]) == "/run/user/1/scaled.sock")
        #expect(SocketPath.resolve(explicit: nil, environment: [:], uid: 1000) == "/tmp/scaled-1000/scaled.sock")
    }

    @Test func requestURIsAreEncoded() {
        #expect(DaemonClient.segment("a b/c") == "a%20b%2Fc")
        #expect(DaemonClient.uri("/v1/streams/x/latents", query: [("dtype", "float32"), ("shape", "2,4"), ("tag", "a&b")])
                == "/v1/streams/x/latents?dtype=float32&shape=2,4&tag=a%26b")
    }
}

@Suite("push batching")
struct BatcherTests {
    func array(_ n: Int, _ c: Int = 4, dtype: DType = .float32, fill: UInt8 = 0) -> LatentArray {
        LatentArray(dtype: dtype, shape: [n, c, 2, 2], bytes: [UInt8](repeating: fill, count: n * c * 4 * dtype.size))
    }

    @Test func sameShapesShareARequest() {
        var b = PushBatcher(limit: 1 << 20)
        #expect(b.add(array(1), file: "a").isEmpty)
        #expect(b.add(array(3), file: "b").isEmpty)
        #expect(b.add(array(1, 8), file: "c").isEmpty)
        #expect(b.add(array(1, dtype: .float16), file: "d").isEmpty)
        let out = b.flush()
        #expect(out.map(\.shape) == [[4, 4, 2, 2], [1, 8, 2, 2], [1, 4, 2, 2]])
        #expect(out[0].files == ["a", "b"])
        #expect(out[2].dtype == .float16)
    }

    @Test func limitSplitsBatchesAndLargeFiles() {
        let perSample = 4 * 4 * 4
        var b = PushBatcher(limit: perSample * 3)
        var ready = b.add(array(2, fill: 1), file: "a")
        #expect(ready.isEmpty)
        ready = b.add(array(2, fill: 2), file: "b")
        #expect(ready.map(\.samples) == [2])
        ready = b.add(array(7, fill: 3), file: "c")
        #expect(ready.map(\.samples) == [2, 3, 3])
        #expect(ready[0].files == ["b"] && ready[1].files == ["c"])
        let rest = b.flush()
        #expect(rest.map(\.samples) == [1])
        #expect((ready + rest).allSatisfy { $0.bytes.count <= perSample * 3 && $0.bytes.count == $0.samples * perSample })
    }

    @Test func halving() {
        let batch = PushBatcher.Batch(dtype: .float32, shape: [5, 1], bytes: Array(0..<20), files: ["a"])
        let halves = PushBatcher.halve(batch)
        #expect(halves.map(\.shape) == [[2, 1], [3, 1]])
        #expect(halves[0].bytes + halves[1].bytes == Array(0..<20))
    }

    @Test func byteSizes() {
        #expect(ByteSize("1048576")?.bytes == 1 << 20)
        #expect(ByteSize("64k")?.bytes == 64 << 10)
        #expect(ByteSize("32M")?.bytes == 32 << 20)
        #expect(ByteSize("2G")?.bytes == 2 << 30)
        #expect(ByteSize("0") == nil)
        #expect(ByteSize("x") == nil)
    }
}
