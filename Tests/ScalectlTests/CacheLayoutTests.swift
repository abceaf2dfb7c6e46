import Foundation
import Testing
@testable import ScalectlCore

@Suite("trainer cache layouts")
struct CacheLayoutTests {
    @Test func kohyaKeys() {
        typealias K = KohyaCache
        #expect(K.parse(key: "latents") == K.Key(role: .latents, bucket: nil))
        #expect(K.parse(key: "latents_16x24") == K.Key(role: .latents, bucket: K.Bucket(height: 16, width: 24)))
        #expect(K.parse(key: "latents_flipped_16x24") == K.Key(role: .latentsFlipped, bucket: K.Bucket(height: 16, width: 24)))
        #expect(K.parse(key: "latents_flipped")?.role == .latentsFlipped)
        #expect(K.parse(key: "crop_ltrb_32x32")?.role == .cropLTRB)
        #expect(K.parse(key: "alpha_mask")?.role == .alphaMask)
        #expect(K.parse(key: "original_size_8x8")?.role == .originalSize)
        for other in ["latents_image", "latents_16x", "latents_x16", "latents_16x24x8", "z", "latents_1x60x104_bf16"] {
            #expect(K.parse(key: other) == nil, "\(other)")
        }
        let keys = ["original_size_32x32", "latents_32x32", "crop_ltrb_16x24", "latents_16x24", "latents_flipped_32x32", "alpha_mask_32x32"]
        #expect(K.latentKeys(keys, includeFlipped: false).map(\.name) == ["latents_16x24", "latents_32x32"])
        #expect(K.latentKeys(keys, includeFlipped: true).map(\.name) == ["latents_16x24", "latents_32x32", "latents_flipped_32x32"])
        #expect(K.Bucket(height: 16, width: 24).tag(imageSize: false) == "16x24")
        #expect(K.Bucket(height: 16, width: 24).tag(imageSize: true) == "128x192")
        #expect(K.isKohya(keys: ["latents", "original_size"], path: "x.npz"))
        #expect(K.isKohya(keys: ["latents"], path: "/c/img_0512x0768_sdxl.npz"))
        #expect(!K.isKohya(keys: ["latents"], path: "/c/img.npz"))
    }

    @Test func cacheFileNames() {
        let n = CacheFileName(path: "/cache/my_photo_01_1024x0768_flux.npz")
        #expect(n == CacheFileName(path: "my_photo_01_1024x0768_flux.npz"))
        #expect(n?.stem == "my_photo_01" && n?.width == 1024 && n?.height == 768 && n?.arch == "flux")
        #expect(CacheFileName(path: "v_0960x0544_hv.safetensors")?.arch == "hv")
        for other in ["img.npz", "img_512x512_sd.npz", "_0512x0512_sd.npz", "img_0512x0512_.npz", "img_0512x0512"] {
            #expect(CacheFileName(path: other) == nil, "\(other)")
        }
    }

    @Test func musubiKeys() {
        let k = MusubiCache.parse(key: "latents_1x60x104_bf16")
        #expect(k == MusubiCache.Key(frames: 1, height: 60, width: 104, dtype: "bf16"))
        #expect(k?.tag(imageSize: false) == "1x60x104")
        #expect(k?.tag(imageSize: true) == "1x480x832")
        for other in ["latents_image_1x60x104_bf16", "latents_60x104_bf16", "latents_1x60x104", "clip_bf16", "latent", "latents"] {
            #expect(MusubiCache.parse(key: other) == nil, "\(other)")
        }
        #expect(MusubiCache.latentKeys(["latents_image_9x8x8_float32", "latents_9x8x8_float32", "clip_float32"]).map(\.name)
                == ["latents_9x8x8_float32"])
    }

    @Test func prescaledLayouts() {
        #expect(CacheLayout.simpleTuner.prescaledName == "SimpleTuner")
        #expect(CacheLayout.kohya(arch: "flux").prescaledName == "kohya FLUX")
        #expect(CacheLayout.kohya(arch: "sdxl").prescaledName == nil)
        #expect(CacheLayout.plain.prescaledName == nil)
    }
}

@Suite("channel ranges")
struct ChannelRangeTests {
    /// (2, 4, 3) float32 whose element i holds the value i.
    let array: LatentArray = {
        let values = (0..<24).map(Float.init)
        return LatentArray(dtype: .float32, shape: [2, 4, 3], bytes: values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
    }()

    @Test func parsing() {
        #expect(ChannelRange("0:4") == ChannelRange(lower: 0, upper: 4))
        #expect(ChannelRange(":4") == ChannelRange(lower: 0, upper: 4))
        #expect(ChannelRange("4:") == ChannelRange(lower: 4, upper: nil))
        for bad in ["4", "4:4", "5:4", "-1:2", "a:b", "1:2:3"] { #expect(ChannelRange(bad) == nil, "\(bad)") }
    }

    @Test func selectsAlongTheAxis() throws {
        let mid = try array.selectingChannels(ChannelRange(lower: 1, upper: 3), axis: 1)
        #expect(mid.shape == [2, 2, 3])
        #expect(mid.doubles() == [3, 4, 5, 6, 7, 8, 15, 16, 17, 18, 19, 20])
        let last = try array.selectingChannels(ChannelRange(lower: 2, upper: nil), axis: -1)
        #expect(last.shape == [2, 4, 1])
        #expect(last.doubles() == [2, 5, 8, 11, 14, 17, 20, 23])
        #expect(throws: ReadError.self) { try array.selectingChannels(ChannelRange(lower: 0, upper: 8), axis: 1) }
        #expect(throws: ReadError.self) { try array.selectingChannels(ChannelRange(lower: 0, upper: 1), axis: 0) }
    }
}

@Suite("undoing an applied normalization")
struct AppliedNormalizationTests {
    @Test func parsing() throws {
        let a = try AppliedNormalization(parsing: "scaling_factor=0.3611, shift_factor=0.1159")
        #expect(a == AppliedNormalization(scalingFactor: 0.3611, shiftFactor: 0.1159))
        #expect(a.formula == "(z - 0.1159) * 0.3611")
        let b = try AppliedNormalization(parsing: "latents_mean=[0.1,-0.2],latents_std=[2,4],scaling_factor=0.5")
        #expect(b.latentsMean == [0.1, -0.2] && b.latentsStd == [2, 4] && b.scalingFactor == 0.5)
        for bad in ["", "scale=1", "scaling_factor=x", "scaling_factor=0", "latents_mean=0.1,0.2", "latents_std=[1,0]",
                    "latents_mean=[1],latents_std=[1,2]", "shift_factor=0.1,latents_mean=[0]"] {
            #expect(throws: CLIError.self, "\(bad)") { try AppliedNormalization(parsing: bad) }
        }
    }

    @Test func undoesTheScalarForm() throws {
        let raw: [Double] = [-3, 0.5, 2, 7.25, 1e4, -0.001]
        let (scale, shift) = (0.3611, 0.1159)
        let stored = LatentArray(float64: raw.map { ($0 - shift) * scale }, shape: [1, 2, 3])
        let back = try AppliedNormalization(scalingFactor: scale, shiftFactor: shift).undo(stored, channelAxis: 1)
        #expect(back.dtype == .float64 && back.shape == [1, 2, 3])
        for (x, y) in zip(back.doubles(), raw) { #expect(abs(x - y) <= 1e-12 * max(1, abs(y))) }
    }

    @Test func undoesThePerChannelFormOnAnyAxis() throws {
        // (1, 2, 3): channels on axis 1 (two of them) or on axis 2 (three).
        let raw: [Double] = [1, 2, 3, 4, 5, 6]
        let mean2 = [0.5, -1.0], std2 = [2.0, 4.0]
        let s = 0.5
        let stored1 = raw.enumerated().map { i, z in (z - mean2[i / 3]) * s / std2[i / 3] }
        let a = AppliedNormalization(scalingFactor: s, latentsMean: mean2, latentsStd: std2)
        let back1 = try a.undo(LatentArray(float64: stored1, shape: [1, 2, 3]), channelAxis: 1).doubles()
        for (x, y) in zip(back1, raw) { #expect(abs(x - y) <= 1e-12) }
        let mean3 = [0.1, 0.2, 0.3], std3 = [1.5, 2.5, 3.5]
        let stored2 = raw.enumerated().map { i, z in (z - mean3[i % 3]) / std3[i % 3] }
        let back2 = try AppliedNormalization(latentsMean: mean3, latentsStd: std3).undo(LatentArray(float64: stored2, shape: [1, 2, 3]), channelAxis: -1).doubles()
        for (x, y) in zip(back2, raw) { #expect(abs(x - y) <= 1e-12) }
        #expect(throws: ReadError.self) { try a.undo(LatentArray(float64: stored2, shape: [1, 2, 3]), channelAxis: 2) }
    }

    @Test func decodesEveryDType() {
        let half = LatentArray(dtype: .float16, shape: [4], bytes: [0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00, 0x00, 0x7C])
        #expect(half.doubles() == [1, -2, 0x1p-24, .infinity])
        let bf = LatentArray(dtype: .bfloat16, shape: [2], bytes: [0x80, 0x3F, 0x40, 0xC0])
        #expect(bf.doubles() == [1, -3])
    }

    @Test func readsADiffusersVAEConfig() throws {
        let dir = try TempDir()
        try FileManager.default.createDirectory(atPath: dir.file("pipe/vae"), withIntermediateDirectories: true)
        try #"{"_class_name": "AutoencoderKL", "scaling_factor": 0.3611, "shift_factor": 0.1159, "latents_mean": null}"#
            .write(toFile: dir.file("pipe/vae/config.json"), atomically: true, encoding: .utf8)
        #expect(try AppliedNormalization.fromDiffusersConfig(at: dir.file("pipe")) == AppliedNormalization(scalingFactor: 0.3611, shiftFactor: 0.1159))
        try #"{"_class_name": "AutoencoderKL", "block_out_channels": [128]}"#.write(toFile: dir.file("c.json"), atomically: true, encoding: .utf8)
        #expect(throws: CLIError.self) { try AppliedNormalization.fromDiffusersConfig(at: dir.file("c.json")) }
    }
}

@Suite("batching by tag")
struct TaggedBatchTests {
    @Test func differentTagsGoInDifferentRequests() {
        var b = PushBatcher(limit: 1 << 20)
        let a = LatentArray(dtype: .float32, shape: [1, 4, 2, 2], bytes: [UInt8](repeating: 0, count: 64))
        _ = b.add(a, tag: "32x32", file: "x")
        _ = b.add(a, tag: "16x24", file: "x")
        _ = b.add(a, tag: "32x32", file: "y")
        _ = b.add(a, file: "z")
        let out = b.flush()
        #expect(out.map(\.tag) == ["32x32", "16x24", nil])
        #expect(out.map(\.samples) == [2, 1, 1])
        #expect(out[0].files == ["x", "y"])
    }
}
