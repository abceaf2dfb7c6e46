import Foundation
import Testing
@testable import ScaleServer
import StreamModel

@Suite struct StreamConfigTests {
    func patch(_ text: String) throws -> JSONValue { try JSONValue.parse(Data(text.utf8)) }

    @Test func defaultsMatchTheDesign() {
        let c = StreamConfig()
        #expect(c.channelAxis == 1 && c.targetStd == 1 && c.reference == nil)
        #expect(c.clipSample == false && c.clipSampleRange == 1)
        #expect(c.windowBatches == 100 && c.driftTolerance == 0.05 && c.clampMaxFraction == 0.001 && c.alertForBatches == 3)
    }

    @Test func patchesOnlyTheGivenFields() throws {
        let c = try StreamConfig().applying(patch(#"{"target_std": 0.5, "scheduler": {"clip_sample": true}}"#))
        #expect(c.targetStd == 0.5 && c.clipSample && c.clipSampleRange == 1 && c.windowBatches == 100)
        let r = try c.applying(patch(#"{"reference": {"scaling_factor": 1.5305, "shift_factor": 0.0609}}"#))
        #expect(r.reference == .scalar(scalingFactor: 1.5305, shiftFactor: 0.0609))
        let cleared = try r.applying(patch(#"{"reference": null}"#))
        #expect(cleared.reference == nil && cleared.targetStd == 0.5)
        let pc = try c.applying(patch(#"{"reference": {"latents_mean": [0.1, -0.2], "latents_std": [0.9, 1.1], "scaling_factor": 0.5}}"#))
        #expect(pc.reference == .perChannel(latentsMean: [0.1, -0.2], latentsStd: [0.9, 1.1], scalingFactor: 0.5))
    }

    @Test(arguments: [
        #"{"target_std": -1}"#, #"{"target_std": 0}"#, #"{"window_batches": 0}"#, #"{"window_batches": 2.5}"#,
        #"{"drift_tolerance": "x"}"#, #"{"clamp_max_fraction": 1.5}"#, #"{"alert_for_batches": -3}"#,
        #"{"scheduler": {"clip_sample": "yes"}}"#, #"{"scheduler": {"clip_range": 1}}"#, #"{"bogus": 1}"#,
        #"{"reference": {"shift_factor": 0.1}}"#, #"{"reference": {"latents_mean": [0], "latents_std": [0, 1]}}"#,
        #"{"reference": {"scaling_factor": 0}}"#, #"[1, 2]"#, #"{"channel_axis": "last"}"#,
        #"{"channel_axis": 0}"#, #"{"channel_axis": 65}"#, #"{"channel_axis": -100}"#,
    ])
    func rejectsInvalidValues(body: String) throws {
        #expect(throws: APIError.self) { try StreamConfig().applying(patch(body)) }
        do { _ = try StreamConfig().applying(patch(body)) } catch let e as APIError {
            #expect(e.code == "invalid_config")
        } catch { Issue.record("\(error)") }
    }

    @Test func storedConfigRoundTrips() throws {
        let c = try StreamConfig().applying(patch(#"{"channel_axis": -1, "target_std": 0.5, "window_batches": 7, "drift_tolerance": 0.1, "clamp_max_fraction": 0.01, "alert_for_batches": 2, "scheduler": {"clip_sample": true, "clip_sample_range": 1.5, "thresholding": true}, "reference": {"latents_mean": [1, 2], "latents_std": [3, 4], "scaling_factor": 0.5}}"#))
        let stored = try JSONEncoder().encode(StoredConfig(c))
        #expect(try JSONDecoder().decode(StoredConfig.self, from: stored).config == c)
        // The stored form is the API's config object, so databases written before StoredConfig still load.
        #expect(try JSONDecoder().decode(StoredConfig.self, from: c.json.encoded()).config == c)
    }

    @Test func streamNames() {
        for ok in ["a", "sdxl-vae_1024.v2", String(repeating: "x", count: 128)] { #expect(StreamName.isValid(ok)) }
        for bad in ["", "-a", ".a", "a b", "a/b", "é", String(repeating: "x", count: 129)] { #expect(!StreamName.isValid(bad)) }
    }
}
