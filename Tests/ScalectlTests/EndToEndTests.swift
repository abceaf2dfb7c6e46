import Foundation
import Testing
@testable import ScalectlCore

/// The real scalectl against the real scaled.
@Suite("scalectl against scaled", .serialized)
struct EndToEndTests {
    /// Writes latent files of one format the way training tools do, and the
    /// float64 statistics numpy computes over all their samples.
    static let fixtureScript = #"""
import json, os, sys, numpy as np
from safetensors import TensorSpec, serialize
from safetensors.numpy import save_file
fmt = sys.argv[1]
rng = np.random.default_rng(11)
os.makedirs('data/sub', exist_ok=True)
samples = []
def f(shape, dt): return (rng.standard_normal(shape) * 5.5 + 0.25).astype(dt)
def keep(x):  # x with a sample axis, as the daemon sees it
    samples.append(np.asarray(x, np.float64))
if fmt == 'npy':
    for i in range(6):
        x = f((4, 8, 8), '<f4'); np.save(f'data/a{i}.npy', x); keep(x[None])
    for i in range(2):
        x = f((3, 4, 8, 8), '<f2'); np.save(f'data/sub/b{i}.npy', x); keep(x)
    x = np.asfortranarray(f((2, 4, 8, 8), '>f8')); np.save('data/sub/c.npy', x); keep(x)
elif fmt == 'npz':
    for i in range(4):
        x = f((4, 8, 8), '<f4')
        np.savez(f'data/k{i}.npz', latents=x, original_size=np.array([64, 64]), crop_ltrb=np.array([0, 0, 64, 64])); keep(x[None])
    for i in range(3):
        x = f((4, 8, 8), '<f2'); np.savez_compressed(f'data/sub/z{i}.npz', latents=x); keep(x[None])
elif fmt == 'safetensors':
    x = f((2, 4, 8, 8), '<f4'); save_file({'latents': x}, 'data/f32.safetensors'); keep(x)
    x = f((1, 4, 8, 8), '<f2'); save_file({'latents': x}, 'data/f16.safetensors'); keep(x)
    x = f((2, 4, 8, 8), '<f8'); save_file({'latents': x}, 'data/sub/f64.safetensors'); keep(x)
    x = f((3, 4, 8, 8), '<f4'); u = x.view(np.uint32)
    b = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype('<u2')
    open('data/sub/bf16.safetensors', 'wb').write(bytes(serialize({'latents': TensorSpec(dtype='bfloat16', shape=x.shape, data_ptr=b.ctypes.data, data_len=b.nbytes)})))
    keep((b.astype(np.uint32) << 16).view(np.float32))
z = np.concatenate(samples)
ch = np.moveaxis(z, 1, 0).reshape(z.shape[1], -1)
json.dump({"samples": int(z.shape[0]), "mean": z.mean(), "std": z.std(), "rms": float(np.sqrt((z ** 2).mean())),
           "min": z.min(), "max": z.max(), "channel_mean": ch.mean(axis=1).tolist(), "channel_std": ch.std(axis=1).tolist(),
           "files": sum(len(fs) for _, _, fs in os.walk('data'))}, open('expected.json', 'w'))
"""#

    @Test(arguments: ["npy", "npz", "safetensors"])
    func pushMatchesNumpy(_ format: String) async throws {
        let daemon = try await Daemon()
        let work = try TempDir()
        try Proc.python(Self.fixtureScript.replacingOccurrences(of: "sys.argv[1]", with: "'\(format)'"), cwd: work.path)
        let expected = try JSONValue(parsing: String(contentsOfFile: work.file("expected.json"), encoding: .utf8))
        let files = try #require(expected["files"]?.int)

        let push = try daemon.ctl(["push", format, work.file("data")])
        #expect(push.status == 0, "\(push.stderr)")
        #expect(push.stdout.contains("pushed \(files) of \(files) files to \(format)"), "\(push.stdout)")
        #expect(push.stdout.contains("/s"), "throughput is reported: \(push.stdout)")
        #expect(push.stdout.contains("estimate: scaling_factor"))

        let run = try daemon.ctl(["status", format, "--json"])
        #expect(run.status == 0)
        let cumulative = try #require(try JSONValue(parsing: run.stdout)["cumulative"])
        let scale = try #require(expected["std"]?.double)
        #expect(cumulative["samples"]?.int == expected["samples"]?.int)
        for key in ["mean", "std", "rms", "min", "max"] {
            #expect(approximately(cumulative[key]?.double, expected[key]?.double, scale: scale),
                    "\(format) \(key): scaled \(cumulative[key]?.compact ?? "-") numpy \(expected[key]?.compact ?? "-")")
        }
        let channels = try #require(cumulative["channels"]?.array)
        let means = try #require(expected["channel_mean"]?.doubles), stds = try #require(expected["channel_std"]?.doubles)
        #expect(channels.count == means.count)
        for (i, c) in channels.enumerated() where i < means.count {
            #expect(approximately(c["mean"]?.double, means[i], scale: scale), "\(format) channel \(i) mean")
            #expect(approximately(c["std"]?.double, stds[i], scale: scale), "\(format) channel \(i) std")
        }
        // The estimate follows: scalar scaling_factor = 1/std.
        let n = try daemon.ctl(["normalization", format, "--format", "diffusers", "--json"])
        let sf = try #require(try JSONValue(parsing: n.stdout)["scaling_factor"]?.double)
        #expect(approximately(sf, 1 / scale, scale: 1 / scale))
    }

    @Test func pushSkipsUnreadableFilesAndStrictStops() async throws {
        let daemon = try await Daemon()
        let work = try TempDir()
        try Proc.python("""
            import numpy as np, os
            os.makedirs('d', exist_ok=True)
            for i in range(3): np.save(f'd/ok{i}.npy', np.ones((4, 8, 8), np.float32) * i)
            open('d/bad.npy', 'wb').write(b'nonsense')
            np.save('d/ints.npy', np.zeros((4, 8, 8), np.int64))
            np.save('d/wrongchannels.npy', np.ones((1, 16, 8, 8), np.float32))
            """, cwd: work.path)
        let mixed = try daemon.ctl(["push", "s", work.file("d"), "--batch-bytes", "1k"])
        #expect(mixed.status == 1, "some files failed: \(mixed.stderr)")
        #expect(mixed.stderr.contains("skipped \(work.file("d/bad.npy")): not a NumPy .npy file"))
        #expect(mixed.stderr.contains("skipped \(work.file("d/ints.npy"))"))
        #expect(mixed.stderr.contains("skipped \(work.file("d/wrongchannels.npy")): rejected by scaled"), "\(mixed.stderr)")
        #expect(mixed.stdout.contains("pushed 3 of 6 files to s: 3 samples"), "\(mixed.stdout)")
        #expect(mixed.stdout.contains("3 skipped"))

        let strict = try daemon.ctl(["push", "t", work.file("d"), "--strict"])
        #expect(strict.status == 65)
        #expect(strict.stderr.contains("bad.npy: not a NumPy .npy file") && strict.stderr.contains("--strict"), "\(strict.stderr)")
        #expect(strict.stderr.split(separator: "\n").count == 1)

        let none = try daemon.ctl(["push", "u", work.file("d/bad.npy")])
        #expect(none.status == 65)
        let missing = try daemon.ctl(["push", "u", work.file("nope")])
        #expect(missing.status == 66)
        #expect(missing.stderr.contains("no .npy, .npz, .safetensors or .pt files"))
    }

    @Test func statusTextAndJSON() async throws {
        let daemon = try await Daemon()
        let empty = try daemon.ctl(["status"])
        #expect(empty.status == 0 && empty.stdout.contains("no streams yet"))
        let work = try TempDir()
        try Proc.python("import numpy as np\nnp.save('x.npy', np.random.default_rng(1).standard_normal((8, 4, 8, 8)).astype(np.float32) * 5)", cwd: work.path)
        #expect(try daemon.ctl(["push", "sd15", work.file("x.npy")]).status == 0)

        let table = try daemon.ctl(["status"])
        #expect(table.status == 0)
        let lines = table.stdout.split(separator: "\n")
        #expect(lines.first?.split(separator: " ") == ["STREAM", "BATCHES", "SAMPLES", "SCALE", "NORM", "STD", "CLAMP", "NONFINITE", "LAST", "PUSH", "FIRING"], "\(table.stdout)")
        #expect(lines.count == 2 && lines[1].hasPrefix("sd15") && lines[1].contains(" 8 "), "\(table.stdout)")
        #expect(!table.stdout.contains("\u{1B}["), "no colour without a terminal")

        let json = try daemon.ctl(["status", "--json"])
        let direct = try await daemon.get("/v1/streams")
        #expect(try JSONValue(parsing: json.stdout) == direct, "--json prints the daemon's answer unchanged")

        let report = try daemon.ctl(["status", "sd15"])
        #expect(report.status == 0)
        for needle in ["stream sd15", "totals     1 batches, 8 samples", "cumulative", "estimate   scaling_factor", "channels (cumulative)", "config     channel_axis 1"] {
            #expect(report.stdout.contains(needle), "report lacks \(needle):\n\(report.stdout)")
        }
        let reportJSON = try JSONValue(parsing: try daemon.ctl(["status", "sd15", "--json"]).stdout)
        #expect(reportJSON["name"]?.string == "sd15")
    }

    @Test func normalizationFormatsAndModes() async throws {
        let daemon = try await Daemon()
        let work = try TempDir()
        try Proc.python("import numpy as np\nnp.save('x.npy', (np.random.default_rng(2).standard_normal((16, 4, 8, 8)) * 2 + 1).astype(np.float32))", cwd: work.path)
        #expect(try daemon.ctl(["push", "v", work.file("x.npy")]).status == 0)

        let keys: [String: [String]] = [
            "scalar": ["scaling_factor"], "shift": ["scaling_factor", "shift_factor"],
            "channel": ["latents_mean", "latents_std", "scaling_factor"], "whiten": ["latents_mean", "scaling_factor", "whitening_matrix"],
        ]
        for (mode, expectedKeys) in keys {
            let diffusers = try daemon.ctl(["normalization", "v", "--mode", mode, "--format", "diffusers"])
            #expect(diffusers.status == 0)
            let parsed = try JSONValue(parsing: diffusers.stdout)
            #expect(Set(parsed.object?.map(\.0) ?? []) == Set(expectedKeys), "\(mode): \(diffusers.stdout)")
            let text = try daemon.ctl(["normalization", "v", "--mode", mode])
            #expect(text.stdout.hasPrefix("v: mode \(mode), method std"), "\(text.stdout)")
            let json = try JSONValue(parsing: try daemon.ctl(["normalization", "v", "--mode", mode, "--format", "json"]).stdout)
            #expect(json["mode"]?.string == mode && json["samples"]?.int == 16)
        }
        let rms = try JSONValue(parsing: try daemon.ctl(["normalization", "v", "--method", "rms", "--json"]).stdout)
        #expect(rms["method"]?.string == "rms")

        let shell = try daemon.ctl(["normalization", "v", "--mode", "shift", "--format", "shell"])
        let lines = shell.stdout.split(separator: "\n")
        #expect(lines.count == 2 && lines.allSatisfy { $0.hasPrefix("export ") })
        let evaluated = try Proc.run("/bin/sh", ["-c", shell.stdout + "\nprintf '%s %s' \"$SCALING_FACTOR\" \"$SHIFT_FACTOR\""])
        let values = evaluated.stdout.split(separator: " ").compactMap { Double($0) }
        #expect(values.count == 2 && abs(values[1] - 1) < 0.2 && abs(values[0] - 0.5) < 0.05, "\(evaluated.stdout)")

        let bad = try daemon.ctl(["normalization", "v", "--mode", "nope"])
        #expect(bad.status == 64)
        #expect(try daemon.ctl(["config", "empty", "--window", "2"]).status == 0)
        let noData = try daemon.ctl(["normalization", "empty"])
        #expect(noData.status == 65 && noData.stderr.contains("push latents first"), "\(noData.stderr)")
        let missing = try daemon.ctl(["normalization", "nosuch"])
        #expect(missing.status == 66 && missing.stderr.hasPrefix("scalectl: "))
    }

    @Test func writeConfigRoundTripsADiffusersConfig() async throws {
        let daemon = try await Daemon()
        let work = try TempDir()
        // An SD3-style VAE config written the way diffusers writes it.
        try Proc.python("""
            import json, numpy as np
            np.save('x.npy', (np.random.default_rng(3).standard_normal((16, 16, 8, 8)) * 0.65 + 0.06).astype(np.float32))
            config = {"_class_name": "AutoencoderKL", "_diffusers_version": "0.31.0", "act_fn": "silu",
                      "block_out_channels": [128, 256, 512, 512], "down_block_types": ["DownEncoderBlock2D"] * 4,
                      "force_upcast": True, "in_channels": 3, "latent_channels": 16, "latents_mean": None, "latents_std": None,
                      "layers_per_block": 2, "mid_block_add_attention": True, "norm_num_groups": 32, "out_channels": 3,
                      "sample_size": 1024, "scaling_factor": 1.5305, "shift_factor": 0.0609, "use_post_quant_conv": False,
                      "use_quant_conv": False, "note": "caf\\u00e9"}
            open('config.json', 'w').write(json.dumps(config, indent=2, sort_keys=True) + "\\n")
            json.dump(config, open('original.json', 'w'))
            """, cwd: work.path)
        #expect(try daemon.ctl(["push", "sd3", work.file("x.npy")]).status == 0)

        let write = try daemon.ctl(["normalization", "sd3", "--mode", "shift", "--write-config", work.file("config.json")])
        #expect(write.status == 0, "\(write.stderr)")
        #expect(write.stdout.contains("updated \(work.file("config.json")): scaling_factor"), "\(write.stdout)")
        let keys = try JSONValue(parsing: try daemon.ctl(["normalization", "sd3", "--mode", "shift", "--format", "diffusers", "--json"]).stdout)

        // diffusers would write exactly these bytes for the merged config, and nothing else changed.
        let check = try Proc.python("""
            import json
            new = json.load(open('config.json')); old = json.load(open('original.json'))
            keys = json.loads('''\(keys.compact)''')
            assert set(new) == set(old), set(new) ^ set(old)
            for k in old:
                if k in keys: assert new[k] == keys[k], (k, new[k], keys[k])
                else: assert new[k] == old[k], k
            assert open('config.json').read() == json.dumps(new, indent=2, sort_keys=True) + "\\n", "layout differs from diffusers"
            print("ok")
            """, cwd: work.path)
        #expect(check.contains("ok"))

        // A scalar estimate leaves the shift in place and says so.
        let scalar = try daemon.ctl(["normalization", "sd3", "--write-config", work.file("config.json")])
        #expect(scalar.status == 0)
        #expect(scalar.stderr.contains("also sets shift_factor"), "\(scalar.stderr)")
        let missing = try daemon.ctl(["normalization", "sd3", "--write-config", work.file("nope.json")])
        #expect(missing.status == 66 && !FileManager.default.fileExists(atPath: work.file("nope.json")))
        try "{not json".write(toFile: work.file("broken.json"), atomically: true, encoding: .utf8)
        let broken = try daemon.ctl(["normalization", "sd3", "--write-config", work.file("broken.json")])
        #expect(broken.status == 65)
        #expect(try String(contentsOfFile: work.file("broken.json"), encoding: .utf8) == "{not json")
    }

    @Test func configFromDiffusersFilesAndFlags() async throws {
        let daemon = try await Daemon()
        let work = try TempDir()
        try FileManager.default.createDirectory(atPath: work.file("pipe/vae"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: work.file("pipe/scheduler"), withIntermediateDirectories: true)
        try #"{"_class_name": "AutoencoderKL", "scaling_factor": 0.3611, "shift_factor": 0.1159, "latents_mean": null}"#
            .write(toFile: work.file("pipe/vae/config.json"), atomically: true, encoding: .utf8)
        try #"{"_class_name": "DDPMScheduler", "clip_sample": true, "clip_sample_range": 1.0, "thresholding": false, "num_train_timesteps": 1000}"#
            .write(toFile: work.file("pipe/scheduler/scheduler_config.json"), atomically: true, encoding: .utf8)

        let run = try daemon.ctl(["config", "flux", "--from-diffusers-config", work.file("pipe"), "--window", "7", "--alert-for", "2"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("reference  declared, scaling_factor 0.3611, shift_factor 0.1159"), "\(run.stdout)")
        let status = try JSONValue(parsing: try daemon.ctl(["status", "flux", "--json"]).stdout)
        let config = try #require(status["config"])
        #expect(config["reference"]?["scaling_factor"]?.double == 0.3611)
        #expect(config["reference"]?["shift_factor"]?.double == 0.1159)
        #expect(config["scheduler"]?["clip_sample"]?.bool == true)
        #expect(config["scheduler"]?["clip_sample_range"]?.double == 1.0)
        #expect(config["window_batches"]?.int == 7 && config["alert_for_batches"]?.int == 2)
        #expect(config["drift_tolerance"]?.double == 0.05, "untouched fields keep their defaults")

        // Flags win over files; a thresholding scheduler turns the clamp off; per-channel references.
        try #"{"clip_sample": true, "thresholding": true}"#.write(toFile: work.file("thr.json"), atomically: true, encoding: .utf8)
        let second = try daemon.ctl(["config", "flux", "--from-diffusers-config", work.file("thr.json"), "--latents-mean", "-0.1,0.2",
                                     "--latents-std", "2,3", "--scaling-factor", "0.5", "--target-std", "0.5", "--json"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("thresholding is on"))
        let after = try #require(try JSONValue(parsing: second.stdout)["config"])
        #expect(after["scheduler"]?["clip_sample"]?.bool == false)
        #expect(after["scheduler"]?["thresholding"]?.bool == true)
        #expect(after["reference"]?["latents_mean"]?.doubles == [-0.1, 0.2])
        #expect(after["target_std"]?.double == 0.5)

        #expect(try daemon.ctl(["config", "flux"]).status == 64, "nothing to set")
        #expect(try daemon.ctl(["config", "flux", "--latents-mean", "1,2"]).status == 64)
        #expect(try daemon.ctl(["config", "flux", "--drift-tolerance", "-1"]).status == 64, "the daemon refuses it as invalid_config")
        #expect(try daemon.ctl(["config", "flux", "--from-diffusers-config", work.file("none.json")]).status == 66)
    }

    /// Pushes that make alerts fire: a clamp share far over its limit
    /// (a warning) and NaN latents (critical).
    static let alertScript = #"""
import numpy as np, os
os.makedirs('unit', exist_ok=True); os.makedirs('nan', exist_ok=True); os.makedirs('calm', exist_ok=True)
rng = np.random.default_rng(5)
for i in range(4):
    np.save(f'unit/{i}.npy', rng.standard_normal((8, 4, 8, 8)).astype(np.float32))
    np.save(f'calm/{i}.npy', (rng.standard_normal((8, 4, 8, 8)) * 0.2).astype(np.float32))
    x = rng.standard_normal((8, 4, 8, 8)).astype(np.float32); x[0, 0, 0, :3] = np.nan
    np.save(f'nan/{i}.npy', x)
"""#

    @Test func checkExitCodesAlertsAndHistory() async throws {
        let daemon = try await Daemon()
        let work = try TempDir()
        try Proc.python(Self.alertScript, cwd: work.path)
        let settings = ["--scaling-factor", "1", "--window", "2", "--alert-for", "1"]
        #expect(try daemon.ctl(["config", "warn"] + settings + ["--clip-sample", "--clip-range", "1"]).status == 0)
        #expect(try daemon.ctl(["config", "crit"] + settings).status == 0)
        #expect(try daemon.ctl(["config", "calm"] + settings + ["--drift-tolerance", "0.9"]).status == 0)
        // One request per file, so that each is a batch the alerts evaluate.
        for (stream, dir) in [("warn", "unit"), ("crit", "nan"), ("calm", "calm")] {
            let push = try daemon.ctl(["push", stream, work.file(dir), "--batch-bytes", "8k"])
            #expect(push.status == 0, "\(push.stderr)")
        }

        let ok = try daemon.ctl(["status", "calm", "--check"])
        #expect(ok.status == 0, "\(ok.stdout)")
        #expect(ok.stdout == "SCALED OK - no alerts firing on calm\n")
        let warning = try daemon.ctl(["status", "warn", "--check"])
        #expect(warning.status == 1, "\(warning.stdout)")
        #expect(warning.stdout.hasPrefix("SCALED WARNING - 1 firing: warn clamp_out_of_range"))
        let critical = try daemon.ctl(["status", "crit", "--check"])
        #expect(critical.status == 2, "\(critical.stdout)")
        #expect(critical.stdout.hasPrefix("SCALED CRITICAL"))
        let all = try daemon.ctl(["status", "--check"])
        #expect(all.status == 2 && all.stdout.contains("warn clamp_out_of_range") && all.stdout.contains("crit nonfinite"))
        let allJSON = try daemon.ctl(["status", "--check", "--json"])
        #expect(allJSON.status == 2)
        #expect(try JSONValue(parsing: allJSON.stdout)["alerts"]?.array?.isEmpty == false)
        #expect(try daemon.ctl(["status", "nosuch", "--check"]).status == 66)

        // The table shows what fires.
        let table = try daemon.ctl(["status"])
        // Every file of crit holds a NaN, so its samples are outliers too.
        #expect(table.stdout.split(separator: "\n").contains { $0.hasPrefix("crit") && $0.hasSuffix("nonfinite,sample_outlier") }, "\(table.stdout)")

        let alerts = try daemon.ctl(["alerts"])
        #expect(alerts.status == 0)
        #expect(alerts.stdout.hasPrefix("STREAM  KIND"))
        #expect(alerts.stdout.contains("clamp_out_of_range") && alerts.stdout.contains("critical"), "\(alerts.stdout)")
        let alertsJSON = try JSONValue(parsing: try daemon.ctl(["alerts", "--all", "--json"]).stdout)
        #expect(alertsJSON["alerts"]?.array?.contains { $0["stream"]?.string == "warn" } == true)

        let chart = try daemon.ctl(["history", "warn"])
        #expect(chart.status == 0)
        let chartLines = chart.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(chartLines.allSatisfy { $0.count <= 80 }, "\(chart.stdout)")
        #expect(chart.stdout.contains("normalized std (target 1, band ±5%)"))
        #expect(chart.stdout.contains("clamp share (limit 0.1%)"))
        #expect(chartLines.contains { $0.hasPrefix("  firing |") && $0.contains("C") }, "\(chart.stdout)")
        let csv = try daemon.ctl(["history", "warn", "--csv"])
        let rows = csv.stdout.split(separator: "\n")
        #expect(rows.first == "seq,step,tag,time,samples,mean,std,normalized_std,clamp_fraction,nonfinite")
        #expect(rows.count == 5, "\(csv.stdout)")
        let historyJSON = try JSONValue(parsing: try daemon.ctl(["history", "warn", "--json", "--limit", "2"]).stdout)
        #expect(historyJSON["history"]?.array?.count == 2)
    }

    @Test func watchPrintsPlainLinesWithoutATerminal() async throws {
        let daemon = try await Daemon()
        #expect(try daemon.ctl(["config", "w", "--window", "3"]).status == 0)
        let plain = try daemon.ctl(["watch", "--count", "2", "--interval", "0.1"])
        #expect(plain.status == 0)
        let lines = plain.stdout.split(separator: "\n")
        #expect(lines.count == 2 && lines.allSatisfy { $0.contains(" w batches=0 ") }, "\(plain.stdout)")
        #expect(!plain.stdout.contains("\u{1B}"))
        let one = try daemon.ctl(["watch", "w", "--count", "1"])
        #expect(one.stdout.split(separator: "\n").count == 1 && one.stdout.contains(" w batches=0"))
        let json = try daemon.ctl(["watch", "--count", "2", "--interval", "0.1", "--json"])
        let objects = try json.stdout.split(separator: "\n").map { try JSONValue(parsing: String($0)) }
        #expect(objects.count == 2 && objects.allSatisfy { $0["streams"] != nil })
    }

    @Test func freezeResetDelete() async throws {
        let daemon = try await Daemon()
        let work = try TempDir()
        try Proc.python("import numpy as np\nnp.save('x.npy', np.random.default_rng(4).standard_normal((8, 4, 8, 8)).astype(np.float32) * 3)", cwd: work.path)
        #expect(try daemon.ctl(["push", "f", work.file("x.npy")]).status == 0)

        let freeze = try daemon.ctl(["freeze", "f"])
        #expect(freeze.status == 0 && freeze.stdout.contains("reference  frozen"), "\(freeze.stdout)")
        let frozen = try JSONValue(parsing: try daemon.ctl(["status", "f", "--json"]).stdout)
        #expect(frozen["reference"]?["source"]?.string == "frozen")

        let reset = try daemon.ctl(["reset", "f", "--json"])
        #expect(reset.status == 0)
        #expect(try JSONValue(parsing: reset.stdout)["totals"]?["batches"]?.int == 0)

        // Without a terminal there is nothing to ask.
        let delete = try daemon.ctl(["delete", "f"])
        #expect(delete.status == 0 && delete.stdout == "deleted f\n")
        let gone = try daemon.ctl(["status", "f"])
        #expect(gone.status == 66)
        #expect(gone.stderr.hasPrefix("scalectl: stream f: ") && gone.stderr.split(separator: "\n").count == 1, "\(gone.stderr)")
        #expect(try daemon.ctl(["delete", "f", "--yes"]).status == 66)
    }

    @Test func errorsSayWhatToDo() async throws {
        let daemon = try await Daemon()
        let bad = try daemon.ctl(["status", "not a name!"])
        #expect(bad.status == 64, "\(bad.stderr)")
        #expect(bad.stderr.hasPrefix("scalectl: "))

        let scalectl = daemon.scalectl
        var env = ProcessInfo.processInfo.environment
        env["SCALED_SOCKET"] = daemon.dir.file("absent.sock")
        let down = try Proc.run(scalectl, ["status"], environment: env)
        #expect(down.status == 69)
        #expect(down.stderr == "scalectl: scaled is not running: no socket at \(daemon.dir.file("absent.sock")); start it with `scaled --socket \(daemon.dir.file("absent.sock"))`, or point scalectl at its socket with --socket or SCALED_SOCKET\n")

        // A socket file nobody listens on (scaled was killed).
        let stale = daemon.dir.file("stale.sock")
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { buf in
            for (i, b) in stale.utf8.enumerated() { buf[i] = b }
        }
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        close(fd)
        let refused = try daemon.ctl(["status", "--socket", stale])
        #expect(refused.status == 69)
        #expect(refused.stderr.contains("nothing listens on \(stale)") && refused.stderr.contains("scaled --socket \(stale)"), "\(refused.stderr)")
    }
}
