import Foundation

/// A normalization a cache already went through, undone before pushing so
/// that the stream measures the raw VAE output.
///
/// diffusers semantics: the scalar form stores `(z - shift_factor) *
/// scaling_factor`, the per-channel form `(z - latents_mean) *
/// scaling_factor / latents_std`. The undo is computed in float64 and the
/// result pushed as float64, so that no rounding is added to the data.
public struct AppliedNormalization: Equatable, Sendable {
    public var scalingFactor: Double?
    public var shiftFactor: Double?
    public var latentsMean: [Double]?
    public var latentsStd: [Double]?

    public init(scalingFactor: Double? = nil, shiftFactor: Double? = nil, latentsMean: [Double]? = nil, latentsStd: [Double]? = nil) {
        self.scalingFactor = scalingFactor
        self.shiftFactor = shiftFactor
        self.latentsMean = latentsMean
        self.latentsStd = latentsStd
    }

    public var isEmpty: Bool { self == AppliedNormalization() }

    var isPerChannel: Bool { latentsMean != nil || latentsStd != nil }

    /// Parses `--applied 'scaling_factor=0.3611,shift_factor=0.1159'`; lists
    /// in brackets: `latents_mean=[0.1,0.2,0.3,0.4],latents_std=[…]`.
    public init(parsing text: String) throws(CLIError) {
        self.init()
        for field in Self.fields(text) {
            guard let eq = field.firstIndex(of: "=") else {
                throw CLIError(.usage, "--applied: '\(field)' is not name=value (e.g. scaling_factor=0.3611,shift_factor=0.1159)")
            }
            let name = field[..<eq].trimmingCharacters(in: .whitespaces)
            let value = field[field.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            switch name {
            case "scaling_factor", "shift_factor":
                guard let v = Double(value), v.isFinite else { throw CLIError(.usage, "--applied: \(name) '\(value)' is not a number") }
                if name == "scaling_factor" { scalingFactor = v } else { shiftFactor = v }
            case "latents_mean", "latents_std":
                guard value.hasPrefix("["), value.hasSuffix("]"), let list = DoubleList(value) else {
                    throw CLIError(.usage, "--applied: \(name) must be a bracketed list of numbers, e.g. \(name)=[0.1,-0.2,0.3,0.4]")
                }
                if name == "latents_mean" { latentsMean = list.values } else { latentsStd = list.values }
            default:
                throw CLIError(.usage, "--applied: unknown key '\(name)'; use scaling_factor, shift_factor, latents_mean, latents_std")
            }
        }
        guard !isEmpty else { throw CLIError(.usage, "--applied: no values given (e.g. --applied 'scaling_factor=0.3611,shift_factor=0.1159')") }
        try validate(what: "--applied")
    }

    /// The normalization a diffusers VAE `config.json` declares; `path` may
    /// also be a pipeline folder (its `vae/config.json` is read).
    public static func fromDiffusersConfig(at path: String) throws(CLIError) -> AppliedNormalization {
        var file = path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            let candidates = ["vae/config.json", "config.json"].map { (path as NSString).appendingPathComponent($0) }
            guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
                throw CLIError(.noInput, "--applied-from \(path): no vae/config.json or config.json in that folder")
            }
            file = found
        }
        let config = try DiffusersConfigFile.load(file, what: "VAE config").value
        let patch = ConfigPatch.fromDiffusers(config).patch
        let applied = AppliedNormalization(scalingFactor: patch.scalingFactor, shiftFactor: patch.shiftFactor,
                                           latentsMean: patch.latentsMean, latentsStd: patch.latentsStd)
        guard !applied.isEmpty else {
            throw CLIError(.dataError, "--applied-from \(file): no scaling_factor, shift_factor, latents_mean or latents_std; is it a VAE config?")
        }
        try applied.validate(what: "--applied-from \(file)")
        return applied
    }

    /// Fields set in `other` win (`--applied` over `--applied-from`).
    public func overridden(by other: AppliedNormalization) -> AppliedNormalization {
        AppliedNormalization(scalingFactor: other.scalingFactor ?? scalingFactor, shiftFactor: other.shiftFactor ?? shiftFactor,
                             latentsMean: other.latentsMean ?? latentsMean, latentsStd: other.latentsStd ?? latentsStd)
    }

    public func validate(what: String) throws(CLIError) {
        if let s = scalingFactor, s == 0 || !s.isFinite {
            throw CLIError(.usage, "\(what): scaling_factor \(s) cannot be undone")
        }
        if let std = latentsStd, std.contains(where: { $0 == 0 || !$0.isFinite }) {
            throw CLIError(.usage, "\(what): latents_std holds a zero or non-finite value, which cannot be undone")
        }
        if let m = latentsMean, let s = latentsStd, m.count != s.count {
            throw CLIError(.usage, "\(what): latents_mean has \(m.count) values, latents_std \(s.count)")
        }
        if isPerChannel, let shift = shiftFactor, shift != 0 {
            throw CLIError(.usage, "\(what): both shift_factor and latents_mean/latents_std: diffusers applies one form or the other, not both")
        }
    }

    /// `(z - shift) * scale` for the scalar form, per-channel otherwise, as text.
    public var formula: String {
        let s = scalingFactor ?? 1
        if isPerChannel {
            return "(z - latents_mean) * \(pythonRepr(s)) / latents_std"
        }
        let shift = shiftFactor ?? 0
        return shift == 0 ? "z * \(pythonRepr(s))" : "(z - \(pythonRepr(shift))) * \(pythonRepr(s))"
    }

    /// The raw latents: `x / scaling_factor + shift_factor`, or per channel
    /// along `channelAxis` `x * latents_std / scaling_factor + latents_mean`.
    public func undo(_ array: LatentArray, channelAxis: Int) throws(ReadError) -> LatentArray {
        var values = array.doubles()
        let s = scalingFactor ?? 1
        if !isPerChannel {
            let shift = shiftFactor ?? 0
            for i in values.indices { values[i] = values[i] / s + shift }
            return LatentArray(float64: values, shape: array.shape)
        }
        let a = try LatentArray.resolveAxis(channelAxis, rank: array.shape.count)
        let channels = array.shape[a]
        let mean = latentsMean ?? [Double](repeating: 0, count: channels)
        let std = latentsStd ?? [Double](repeating: 1, count: channels)
        guard mean.count == channels, std.count == channels else {
            throw ReadError("latents_mean/latents_std have \(max(mean.count, std.count)) values, the array has \(channels) channels on axis \(a)")
        }
        let inner = array.shape[(a + 1)...].reduce(1, *)
        if inner == 0 { return LatentArray(float64: values, shape: array.shape) }
        for i in values.indices {
            let c = (i / inner) % channels
            values[i] = values[i] * std[c] / s + mean[c]
        }
        return LatentArray(float64: values, shape: array.shape)
    }

    /// Splits on commas outside brackets.
    static func fields(_ text: String) -> [String] {
        var out: [String] = [], current = "", depth = 0
        for ch in text {
            if ch == "[" { depth += 1 }
            if ch == "]" { depth -= 1 }
            if ch == ",", depth == 0 {
                out.append(current)
                current = ""
            } else {
                current.append(ch)
            }
        }
        out.append(current)
        return out.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
