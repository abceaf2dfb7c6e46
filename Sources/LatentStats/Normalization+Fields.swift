/// One value of the normalization object, typed so that every JSON writer
/// (the daemon's, `scalectl merge`'s) renders the same object.
public enum NormalizationField: Sendable, Equatable {
    case text(String)
    case number(Double?)
    case numbers([Double]?)
    case intervals([[Double]]?)
    case matrix([[Double]]?)
    case integer(Int)
    case flag(Bool)
}

extension Normalization {
    /// The full normalization object (`format=json`, `scaled-protocol(7)`,
    /// "NORMALIZATION"), key by key in the order the API writes them.
    public var fields: [(key: String, value: NormalizationField)] {
        var out: [(String, NormalizationField)] = [
            ("mode", .text(mode.rawValue)),
            ("method", .text(method.rawValue)),
            ("target_std", .number(targetStd)),
            ("scaling_factor", .number(scalingFactor)),
        ]
        if mode == .shift { out.append(("shift_factor", .number(shiftFactor))) }
        if mode == .channel || mode == .whiten { out.append(("latents_mean", .numbers(latentsMean))) }
        if mode == .channel {
            out.append(("latents_std", .numbers(latentsStd)))
            out.append(("latents_std_ci95", .intervals(latentsStdCI95)))
        }
        if mode == .whiten { out.append(("whitening_matrix", .matrix(whiteningMatrix ?? []))) }
        out += [
            ("samples", .integer(samples)),
            ("elements", .integer(elements)),
            ("scaling_factor_ci95", .numbers(scalingFactorCI95)),
            ("converged", .flag(converged)),
        ]
        return out
    }
}
