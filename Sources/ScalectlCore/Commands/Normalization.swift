import ArgumentParser
import Foundation

extension Scalectl {
    struct Normalization: ScalectlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the normalization estimated for a stream, or write it into a diffusers config.",
            discussion: """
                --format diffusers prints exactly the keys to merge into a diffusers VAE config.json; \
                --format shell prints export lines; --write-config merges the keys into an existing \
                config.json and keeps every other key as it was.
                """)

        enum Mode: String, ExpressibleByArgument, CaseIterable { case scalar, shift, channel, whiten }
        enum Method: String, ExpressibleByArgument, CaseIterable { case std, rms }
        enum Format: String, ExpressibleByArgument, CaseIterable { case text, json, diffusers, shell }

        @Argument(help: ArgumentHelp("The stream.", valueName: "stream"))
        var stream: String

        @Option(help: "scalar (SD 1.x/SDXL), shift (SD3/FLUX), channel (per-channel mean/std), or whiten (ZCA).")
        var mode: Mode = .scalar

        @Option(help: "std: target_std/std; rms: target_std/rms (DC-AE style).")
        var method: Method = .std

        @Option(help: "text, json (the daemon's full object), diffusers (config.json keys), or shell (export lines).")
        var format: Format = .text

        @Option(help: ArgumentHelp("Merge the diffusers keys into this existing config.json.", valueName: "path"))
        var writeConfig: String?

        @Option(help: ArgumentHelp("The normalization of one bucket (the batches pushed with this tag) instead of the stream's.", valueName: "tag"))
        var tag: String?

        @OptionGroup var connection: ConnectionOptions

        func validate() throws {
            if connection.json && format == .shell {
                throw ValidationError("--json prints the daemon's JSON; it cannot be combined with --format shell")
            }
        }

        func execute(_ context: Context) async throws -> ExitStatus {
            let wantsDiffusers = writeConfig != nil || format == .diffusers || format == .shell
            let query = [("mode", mode.rawValue), ("method", method.rawValue), ("format", wantsDiffusers ? "diffusers" : "json")]
                + (tag.map { [("tag", $0)] } ?? [])
            let (json, response) = try await context.client.expectJSON(
                .GET, streamPath(stream, "/normalization"), query: query, what: "normalization of \(stream)")

            if let writeConfig {
                try write(json, to: writeConfig, context: context)
                if context.json { printRaw(response) }
                return .ok
            }
            if context.json || format == .json { printRaw(response); return .ok }
            switch format {
            case .diffusers: Output.out(json.pretty + "\n")
            case .shell: Output.out(ShellExport.lines(json).joined(separator: "\n") + "\n")
            default: Output.out(NormalizationText.render(json, stream: stream, style: context.style).joined(separator: "\n") + "\n")
            }
            return .ok
        }

        func write(_ keys: JSONValue, to path: String, context: Context) throws(CLIError) {
            guard FileManager.default.fileExists(atPath: path) else {
                throw CLIError(.noInput, "no config at \(path): --write-config updates an existing diffusers config.json (to start one, create it with `echo '{}' > \(path)`)")
            }
            guard keys.object?.isEmpty == false else {
                throw CLIError(.dataError, "the daemon has no estimate for \(stream) yet: push latents first")
            }
            if (keys.object ?? []).contains(where: { $0.1.isNull }) {
                throw CLIError(.dataError, "the estimate for \(stream) is incomplete (no data yet?); nothing written to \(path)")
            }
            let (config, text) = try DiffusersConfigFile.load(path, what: "config")
            let merged = DiffusersConfigFile.merge(keys, into: config)
            try DiffusersConfigFile.write(merged, to: path, finalNewline: text.hasSuffix("\n"))
            if !context.json {
                let changed = (keys.object ?? []).map { key, value in
                    let before = config[key].map { $0 == value ? " (unchanged)" : " (was \(Self.short($0)))" } ?? " (added)"
                    return "\(key) \(Self.short(value))\(before)"
                }
                Output.out("updated \(path): " + changed.joined(separator: ", ") + "\n")
            }
            for key in DiffusersConfigFile.conflicts(keys, in: config) {
                Output.err("scalectl: note: \(path) also sets \(key), which --mode \(mode.rawValue) does not estimate; diffusers will still apply it (kept as it was)\n")
            }
        }

        static func short(_ v: JSONValue) -> String {
            if let a = v.array { return "[\(a.count) values]" }
            return v.compact
        }
    }
}

/// `export` lines for `normalization --format shell`.
public enum ShellExport {
    /// One `export NAME='value'` per key, NAME the upper-cased diffusers key;
    /// vectors are comma-separated, matrix rows separated by `;`.
    public static func lines(_ keys: JSONValue) -> [String] {
        (keys.object ?? []).map { key, value in
            let text: String
            switch value {
            case let .array(items):
                text = items.map { item in
                    item.array.map { row in row.map(\.compact).joined(separator: ",") } ?? item.compact
                }.joined(separator: items.first?.array != nil ? ";" : ",")
            case let .string(s): text = s
            default: text = value.compact
            }
            return "export \(key.uppercased())='\(text.replacingOccurrences(of: "'", with: "'\\''"))'"
        }
    }
}

/// The default, readable form of `normalization`.
enum NormalizationText {
    static func render(_ n: JSONValue, stream: String, style: Style) -> [String] {
        var out = [style.bold("\(stream): mode \(n["mode"]?.string ?? "?"), method \(n["method"]?.string ?? "?"), target std \(Fmt.sig(n["target_std"]?.double))")]
        var sf = "  scaling_factor  \(Fmt.sig(n["scaling_factor"]?.double, 6))"
        if let ci = n["scaling_factor_ci95"]?.doubles, ci.count == 2, !StatusReport.perChannel(n) {
            sf += "  (95% CI \(Fmt.sig(ci[0], 5))–\(Fmt.sig(ci[1], 5)))"
        }
        out.append(sf)
        if let v = n["shift_factor"]?.double { out.append("  shift_factor    \(Fmt.sig(v, 6))") }
        if let v = n["latents_mean"]?.doubles { out.append("  latents_mean    [\(Fmt.list(v, 5))]") }
        if let v = n["latents_std"]?.doubles { out.append("  latents_std     [\(Fmt.list(v, 5))]") }
        if let m = n["whitening_matrix"]?.array {
            out.append("  whitening_matrix (\(m.count)×\(m.first?.array?.count ?? 0))")
            for row in m { out.append("    [\(Fmt.list(row.doubles, 4))]") }
        }
        out.append("  from \(n["samples"]?.int ?? 0) samples, \(Fmt.count(n["elements"]?.int)) elements: "
            + (n["converged"]?.bool == true ? style.green("converged") : style.yellow("not converged yet (95% CI wider than ±1%)")))
        return out
    }
}
