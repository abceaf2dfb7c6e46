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
        .object(fields.map { key, value in
            switch value {
            case .text(let t): (key, .string(t))
            case .number(let d): (key, .num(d))
            case .numbers(let v): (key, .nums(v))
            case .intervals(let v): (key, v.map { .array($0.map { .nums($0) }) } ?? .null)
            case .matrix(let m): (key, .array((m ?? []).map { .nums($0) }))
            case .integer(let i): (key, .int(i))
            case .flag(let b): (key, .bool(b))
            }
        })
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

    func totalsJSON(_ c: BatchSummary?) -> JSONValue {
        return .object([
            ("batches", .int(c?.batches ?? 0)),
            ("samples", .int(c?.samples ?? 0)),
            ("elements", .int(c?.elements ?? 0)),
            ("nonfinite", .object([("nan", .int(c?.nanCount ?? 0)), ("posinf", .int(c?.posInfCount ?? 0)),
                                   ("neginf", .int(c?.negInfCount ?? 0))])),
        ])
    }

    /// The peers' latest summaries, by name.
    var peersJSON: JSONValue {
        .array(peers.keys.sorted().map { name in
            let p = peers[name]!
            return .object([("name", .string(name)), ("samples", .int(p.summary.samples)),
                            ("elements", .int(p.summary.elements)), ("updated_at", Timestamp.json(p.updatedAt))])
        })
    }

    /// `GET /v1/streams/{name}`; with `scope` global, totals, cumulative and
    /// the estimate are over this node's data merged with every peer's; the
    /// window, drift, clamp and flags stay local.
    func statusJSON(flags: JSONValue, scope: StatisticsScope = .local) -> JSONValue {
        let cumulative = self.cumulative(scope)
        let estimate = try? cumulative?.normalization(mode: .shift, method: .std, targetStd: config.targetStd)
        return .object([
            ("name", .string(name)),
            ("config", config.json),
            ("created_at", Timestamp.json(createdAt)),
            ("updated_at", Timestamp.json(updatedAt)),
            ("last_push_at", Timestamp.json(lastPushAt)),
            ("scope", .string(scope.rawValue)),
            ("totals", totalsJSON(cumulative)),
            ("cumulative", cumulative?.statsJSON ?? BatchSummary.emptyStatsJSON),
            ("window", windowSummaryWithSketch?.statsJSON ?? BatchSummary.emptyStatsJSON),
            ("estimate", estimate?.json ?? .null),
            ("reference", referenceJSON),
            ("drift", driftJSON),
            ("clamp", clampJSON),
            ("flags", flags),
            ("peers", peersJSON),
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
