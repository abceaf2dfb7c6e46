import Foundation
import LatentStats
import StreamModel

/// The quantiles reported in status.
let reportedQuantiles: [Double] = [0.001, 0.01, 0.5, 0.99, 0.999]

extension BatchSummary {
    /// The `cumulative` / `window` object of the status.
    var statsJSON: JSONValue {
        let C = channels
        func matrix(_ flat: [Double]?) -> JSONValue {
            guard let flat else { return .array([]) }
            return .array((0..<C).map { a in .array((0..<C).map { b in .num(flat[a * C + b]) }) })
        }
        return .object([
            ("batches", .int(batches)),
            ("samples", .int(samples)),
            ("elements", .int(elements)),
            ("mean", .num(total.count > 0 ? total.mean : nil)),
            ("std", .num(total.std)),
            ("rms", .num(total.rms)),
            ("min", .num(total.count > 0 ? total.min : nil)),
            ("max", .num(total.count > 0 ? total.max : nil)),
            ("skewness", .num(total.skewness)),
            ("kurtosis", .num(total.kurtosis)),
            ("quantiles", .object(reportedQuantiles.map { (quantileKey($0), .num(quantile($0))) })),
            ("channels", .array(perChannel.map { m in
                .object([("mean", .num(m.count > 0 ? m.mean : nil)), ("std", .num(m.std)),
                         ("min", .num(m.count > 0 ? m.min : nil)), ("max", .num(m.count > 0 ? m.max : nil))])
            })),
            ("covariance", matrix(covariance.covariance)),
            ("correlation", matrix(covariance.correlation)),
        ])
    }

    static var emptyStatsJSON: JSONValue {
        .object([
            ("batches", .int(0)), ("samples", .int(0)), ("elements", .int(0)),
            ("mean", .null), ("std", .null), ("rms", .null), ("min", .null), ("max", .null),
            ("skewness", .null), ("kurtosis", .null),
            ("quantiles", .object(reportedQuantiles.map { (quantileKey($0), .null) })),
            ("channels", .array([])), ("covariance", .array([])), ("correlation", .array([])),
        ])
    }
}

func quantileKey(_ q: Double) -> String {
    var s = String(q)
    if s.hasSuffix(".0") { s.removeLast(2) }
    return s
}

extension Normalization {
    /// The full normalization object (`format=json`).
    var json: JSONValue {
        var pairs: [(String, JSONValue)] = [
            ("mode", .string(mode.rawValue)),
            ("method", .string(method.rawValue)),
            ("target_std", .num(targetStd)),
            ("scaling_factor", .num(scalingFactor)),
        ]
        if mode == .shift { pairs.append(("shift_factor", .num(shiftFactor))) }
        if mode == .channel || mode == .whiten { pairs.append(("latents_mean", .nums(latentsMean))) }
        if mode == .channel {
            pairs.append(("latents_std", .nums(latentsStd)))
            pairs.append(("latents_std_ci95", latentsStdCI95.map { .array($0.map { .nums($0) }) } ?? .null))
        }
        if mode == .whiten { pairs.append(("whitening_matrix", .array((whiteningMatrix ?? []).map { .nums($0) }))) }
        pairs += [
            ("samples", .int(samples)),
            ("elements", .int(elements)),
            ("scaling_factor_ci95", .nums(scalingFactorCI95)),
            ("converged", .bool(converged)),
        ]
        return .object(pairs)
    }

    /// Only the keys to merge into a diffusers VAE `config.json` (`format=diffusers`).
    var diffusersJSON: JSONValue {
        .object(diffusersKeys.map { key, value in
            switch value {
            case .number(let d): (key, .num(d))
            case .numbers(let v): (key, .nums(v))
            case .matrix(let m): (key, .array(m.map { .nums($0) }))
            }
        })
    }
}

extension StreamState {
    var referenceJSON: JSONValue {
        guard let reference, let source = referenceSource else { return .null }
        var pairs: [(String, JSONValue)] = [("source", .string(source.rawValue))]
        switch reference {
        case let .scalar(f, s):
            pairs += [("scaling_factor", .num(f)), ("shift_factor", .num(s)), ("latents_mean", .null), ("latents_std", .null)]
        case let .perChannel(m, sd, f):
            pairs += [("scaling_factor", .num(f)), ("shift_factor", .null), ("latents_mean", .nums(m)), ("latents_std", .nums(sd))]
        }
        pairs.append(("frozen_at", source == .frozen ? Timestamp.json(frozen?.frozenAt) : .null))
        return .object(pairs)
    }

    var driftJSON: JSONValue {
        let n = windowSummary.flatMap { normalizedMoments($0) }
        return .object([
            ("normalized_std", .num(n?.std)),
            ("normalized_mean", .num(n?.mean)),
            ("ratio", .num(n.map { $0.std / config.targetStd })),
            ("state", .string(alerts[.varianceDrift].map { $0.phase == .inactive ? "ok" : $0.phase.rawValue } ?? "ok")),
        ])
    }

    var clampJSON: JSONValue {
        let w = windowClamp
        return .object([
            ("enabled", .bool(config.clipSample)),
            ("range", .num(config.clipSampleRange)),
            ("fraction_window", .num(w?.fraction)),
            ("fraction_cumulative", .num(clampSinceReference?.fraction)),
            ("recommended_range", .num(w?.recommendedRange(maxFraction: config.clampMaxFraction))),
        ])
    }

    var totalsJSON: JSONValue {
        let c = cumulative
        return .object([
            ("batches", .int(c?.batches ?? 0)),
            ("samples", .int(c?.samples ?? 0)),
            ("elements", .int(c?.elements ?? 0)),
            ("nonfinite", .object([("nan", .int(c?.nanCount ?? 0)), ("posinf", .int(c?.posInfCount ?? 0)),
                                   ("neginf", .int(c?.negInfCount ?? 0))])),
        ])
    }

    /// `GET /v1/streams/{name}`.
    func statusJSON(flags: JSONValue) -> JSONValue {
        .object([
            ("name", .string(name)),
            ("config", config.json),
            ("created_at", Timestamp.json(createdAt)),
            ("updated_at", Timestamp.json(updatedAt)),
            ("last_push_at", Timestamp.json(lastPushAt)),
            ("totals", totalsJSON),
            ("cumulative", cumulative?.statsJSON ?? BatchSummary.emptyStatsJSON),
            ("window", windowSummaryWithSketch?.statsJSON ?? BatchSummary.emptyStatsJSON),
            ("estimate", estimate?.json ?? .null),
            ("reference", referenceJSON),
            ("drift", driftJSON),
            ("clamp", clampJSON),
            ("flags", flags),
        ] + detailStatusPairs)
    }

    /// One entry of `GET /v1/streams`.
    func listEntryJSON(flags: JSONValue) -> JSONValue {
        let n = windowSummary.flatMap { normalizedMoments($0) }
        return .object([
            ("name", .string(name)),
            ("batches", .int(cumulative?.batches ?? 0)),
            ("samples", .int(cumulative?.samples ?? 0)),
            ("elements", .int(cumulative?.elements ?? 0)),
            ("nonfinite", .int(cumulative?.nonfiniteCount ?? 0)),
            ("scaling_factor", .num(estimate?.scalingFactor)),
            ("normalized_std", .num(n?.std)),
            ("clamp_fraction", config.clipSample ? .num(windowClampFraction) : .null),
            ("last_push_at", Timestamp.json(lastPushAt)),
            ("flags", flags),
        ])
    }
}
