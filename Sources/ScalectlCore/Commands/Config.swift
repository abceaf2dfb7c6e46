import ArgumentParser
import Foundation

extension DoubleList: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}

extension Scalectl {
    struct Config: ScalectlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a stream's reference normalization, scheduler clamp and alert settings.",
            discussion: """
                Only the options given are sent; the daemon keeps the rest. The reference options \
                replace the whole reference. --from-diffusers-config reads scaling_factor, \
                shift_factor, latents_mean and latents_std from a VAE config.json and clip_sample, \
                clip_sample_range and thresholding from a scheduler config; give it several times, \
                or a pipeline folder. Options on the command line win over the files.
                """)

        @Argument(help: ArgumentHelp("The stream (created if it does not exist).", valueName: "stream"))
        var stream: String

        @Option(parsing: .unconditional, help: ArgumentHelp("Reference scaling factor (diffusers scaling_factor).", valueName: "x"))
        var scalingFactor: Double?

        @Option(parsing: .unconditional, help: ArgumentHelp("Reference shift (diffusers shift_factor): (z - shift) * scale.", valueName: "x"))
        var shiftFactor: Double?

        @Option(parsing: .unconditional, help: ArgumentHelp("Per-channel reference means, comma-separated.", valueName: "a,b,…"))
        var latentsMean: DoubleList?

        @Option(parsing: .unconditional, help: ArgumentHelp("Per-channel reference stds, comma-separated.", valueName: "a,b,…"))
        var latentsStd: DoubleList?

        @Flag(help: "Remove the declared reference; the estimate is frozen again when the window fills.")
        var clearReference = false

        @Flag(inversion: .prefixedNo, help: "Whether the scheduler clamps predicted samples (diffusers clip_sample).")
        var clipSample: Bool?

        @Option(help: ArgumentHelp("The clamp range ±x (diffusers clip_sample_range).", valueName: "x"))
        var clipRange: Double?

        @Option(help: ArgumentHelp("The std the normalized latents should have (1, or 0.5 for EDM2).", valueName: "x"))
        var targetStd: Double?

        @Option(help: ArgumentHelp("Batches in the sliding window.", valueName: "batches"))
        var window: Int?

        @Option(help: ArgumentHelp("Relative drift of the normalized std that raises an alert.", valueName: "fraction"))
        var driftTolerance: Double?

        @Option(help: ArgumentHelp("Share of clamped values that raises an alert.", valueName: "fraction"))
        var clampMaxFraction: Double?

        @Option(help: ArgumentHelp("Consecutive batches a condition must hold before it fires.", valueName: "batches"))
        var alertFor: Int?

        @Option(parsing: .unconditional, help: ArgumentHelp("The channel axis of pushed tensors (1 for NCHW).", valueName: "axis"))
        var channelAxis: Int?

        @Option(help: ArgumentHelp("Read settings from a diffusers VAE or scheduler config (file or pipeline folder); repeatable.", valueName: "path"))
        var fromDiffusersConfig: [String] = []

        @Option(help: ArgumentHelp("Tags with a bucket of their own (1 to 1024); later tags share (other).", valueName: "n"))
        var maxBuckets: Int?

        @Option(help: ArgumentHelp("Robust z-score of a sample's mean or std that makes it an outlier.", valueName: "z"))
        var outlierZ: Double?

        @Option(help: ArgumentHelp("A sample whose |mean| exceeds this is an outlier; 'none' removes the limit.", valueName: "x"))
        var sampleMeanAbsMax: String?

        @Option(help: ArgumentHelp("A sample whose std exceeds this is an outlier; 'none' removes the limit.", valueName: "x"))
        var sampleStdMax: String?

        @Option(help: ArgumentHelp("Share of outlier samples in the window that raises sample_outlier.", valueName: "fraction"))
        var outlierMaxFraction: Double?

        @Flag(inversion: .prefixedNo, help: "Whether samples holding NaN/inf leave the statistics (they are still reported).")
        var excludeNonfiniteSamples: Bool?

        @OptionGroup var connection: ConnectionOptions

        /// The bucket and outlier fields given on the command line.
        func detailsPatch() throws -> [String: JSONValue] {
            var d: [String: JSONValue] = [:]
            if let maxBuckets { d["max_buckets"] = JSONValue(maxBuckets) }
            if let outlierZ { d["outlier_z"] = JSONValue(outlierZ) }
            for (key, text) in [("sample_mean_abs_max", sampleMeanAbsMax), ("sample_std_max", sampleStdMax)] {
                guard let text else { continue }
                if text == "none" { d[key] = .null; continue }
                guard let v = Double(text) else { throw ValidationError("--\(key.replacingOccurrences(of: "_", with: "-")) takes a number or 'none'") }
                d[key] = JSONValue(v)
            }
            if let outlierMaxFraction { d["outlier_max_fraction"] = JSONValue(outlierMaxFraction) }
            if let excludeNonfiniteSamples { d["exclude_nonfinite_samples"] = .bool(excludeNonfiniteSamples) }
            return d
        }

        func validate() throws {
            _ = try detailsPatch()
            if clearReference && (scalingFactor != nil || shiftFactor != nil || latentsMean != nil || latentsStd != nil) {
                throw ValidationError("--clear-reference cannot be combined with reference values")
            }
            if (latentsMean == nil) != (latentsStd == nil), fromDiffusersConfig.isEmpty {
                throw ValidationError("--latents-mean and --latents-std go together")
            }
            if let a = latentsMean, let b = latentsStd, a.values.count != b.values.count {
                throw ValidationError("--latents-mean has \(a.values.count) values but --latents-std has \(b.values.count)")
            }
            if let v = window, v < 1 { throw ValidationError("--window must be at least 1") }
            if let v = alertFor, v < 1 { throw ValidationError("--alert-for must be at least 1") }
        }

        var flagsPatch: ConfigPatch {
            var p = ConfigPatch()
            p.scalingFactor = scalingFactor
            p.shiftFactor = shiftFactor
            p.latentsMean = latentsMean?.values
            p.latentsStd = latentsStd?.values
            p.clearReference = clearReference
            p.clipSample = clipSample
            p.clipRange = clipRange
            p.targetStd = targetStd
            p.window = window
            p.driftTolerance = driftTolerance
            p.clampMaxFraction = clampMaxFraction
            p.alertFor = alertFor
            p.channelAxis = channelAxis
            p.details = (try? detailsPatch()) ?? [:]
            return p
        }

        func execute(_ context: Context) async throws -> ExitStatus {
            var patch = ConfigPatch()
            for path in fromDiffusersConfig {
                let files = ConfigPatch.diffusersFiles(at: path)
                guard !files.isEmpty else {
                    throw CLIError(.noInput, "no diffusers config in \(path) (looked for config.json, vae/config.json, scheduler/scheduler_config.json)")
                }
                for file in files {
                    let (json, _) = try DiffusersConfigFile.load(file, what: "diffusers config")
                    let (filePatch, notes) = ConfigPatch.fromDiffusers(json)
                    if filePatch.isEmpty {
                        Output.err("scalectl: note: \(file) has none of the keys scalectl reads (scaling_factor, shift_factor, latents_mean, latents_std, clip_sample, clip_sample_range, thresholding)\n")
                    }
                    for note in notes { Output.err("scalectl: note: \(file): \(note)\n") }
                    patch = patch.overridden(by: filePatch)
                }
            }
            patch = patch.overridden(by: flagsPatch)
            guard !patch.isEmpty else {
                throw CLIError(.usage, "nothing to set: give at least one option (see `scalectl config --help`)")
            }
            if (patch.latentsMean == nil) != (patch.latentsStd == nil) {
                throw CLIError(.usage, "a per-channel reference needs both latents_mean and latents_std")
            }
            let (json, response) = try await context.client.expectJSON(
                .PUT, streamPath(stream), body: patch.json.requestBody, what: "configure \(stream)")
            if context.json { printRaw(response); return .ok }
            Output.out("configured \(stream): sent \(patch.json.compact)\n")
            Output.out(StatusReport.referenceLine(json["reference"]) + "\n")
            let scheduler = json["config"]?["scheduler"]
            if let on = scheduler?["clip_sample"]?.bool {
                let thresholding = scheduler?["thresholding"]?.bool == true ? ", thresholding on" : ""
                Output.out("  scheduler  clip_sample \(on ? "on" : "off"), range ±\(Fmt.sig(scheduler?["clip_sample_range"]?.double, 4))\(thresholding)\n")
            }
            Output.out(StatusReport.configLine(json["config"]) + "\n")
            return .ok
        }
    }
}
