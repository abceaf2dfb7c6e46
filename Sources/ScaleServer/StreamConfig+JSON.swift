import Foundation
import LatentStats
import StreamModel

/// The normalization a training job applies, in diffusers' semantics.
extension Reference {
    /// The reference as the config JSON holds it.
    var json: JSONValue {
        switch self {
        case let .scalar(f, s):
            return .object([("scaling_factor", .num(f)), ("shift_factor", .num(s))])
        case let .perChannel(m, sd, f):
            return .object([("latents_mean", .nums(m)), ("latents_std", .nums(sd)), ("scaling_factor", .num(f))])
        }
    }

    init(json: JSONValue) throws(APIError) {
        guard case .object = json else {
            throw .badRequest("invalid_config", "reference must be an object such as {\"scaling_factor\": 0.18215, \"shift_factor\": 0} or {\"latents_mean\": [...], \"latents_std\": [...], \"scaling_factor\": 1}, or null")
        }
        let known: Set = ["scaling_factor", "shift_factor", "latents_mean", "latents_std"]
        if case .object(let pairs) = json, let bad = pairs.first(where: { !known.contains($0.0) }) {
            throw .badRequest("invalid_config", "unknown reference field '\(bad.0)'; use scaling_factor, shift_factor, latents_mean, latents_std")
        }
        let factor = try StreamConfig.positive(json["scaling_factor"], "reference.scaling_factor", default: 1.0)
        if json["latents_mean"] != nil || json["latents_std"] != nil {
            let mean = try StreamConfig.numbers(json["latents_mean"], "reference.latents_mean")
            let std = try StreamConfig.numbers(json["latents_std"], "reference.latents_std")
            guard mean.count == std.count, !mean.isEmpty else {
                throw .badRequest("invalid_config", "reference.latents_mean and latents_std must be non-empty lists of the same length (one per channel); got \(mean.count) and \(std.count)")
            }
            guard std.allSatisfy({ $0 > 0 }) else {
                throw .badRequest("invalid_config", "reference.latents_std values must be positive")
            }
            if json["shift_factor"] != nil {
                throw .badRequest("invalid_config", "a per-channel reference has no shift_factor; fold it into latents_mean")
            }
            self = .perChannel(latentsMean: mean, latentsStd: std, scalingFactor: factor)
        } else {
            guard json["scaling_factor"] != nil else {
                throw .badRequest("invalid_config", "reference needs scaling_factor (and optionally shift_factor), or latents_mean and latents_std")
            }
            let shift = try StreamConfig.finite(json["shift_factor"], "reference.shift_factor", default: 0)
            self = .scalar(scalingFactor: factor, shiftFactor: shift)
        }
    }
}

extension StreamConfig {
    /// The config object of the API (and of `PUT` bodies).
    public var json: JSONValue {
        .object([
            ("channel_axis", .int(channelAxis)),
            ("target_std", .num(targetStd)),
            ("reference", reference?.json ?? .null),
            ("scheduler", .object([
                ("clip_sample", .bool(clipSample)),
                ("clip_sample_range", .num(clipSampleRange)),
                ("thresholding", .bool(thresholding)),
            ])),
            ("window_batches", .int(windowBatches)),
            ("drift_tolerance", .num(driftTolerance)),
            ("clamp_max_fraction", .num(clampMaxFraction)),
            ("alert_for_batches", .int(alertForBatches)),
        ] + detailJSONPairs)
    }

    /// Applies a PUT body: every field optional; `"reference": null` clears the reference.
    /// Throws without changing anything when any field is invalid.
    public func applying(_ patch: JSONValue) throws(APIError) -> StreamConfig {
        guard case .object(let pairs) = patch else {
            throw .badRequest("invalid_config", "the body must be a JSON object of config fields, e.g. {\"target_std\": 1.0}")
        }
        var c = self
        for (key, value) in pairs {
            switch key {
            case "channel_axis":
                guard case .int(let a) = value else { throw .badRequest("invalid_config", "channel_axis must be an integer such as 1 or -1") }
                // The push path's rule: axis 0 is the sample axis, never the channels.
                guard a != 0 else {
                    throw .badRequest("invalid_config", "channel_axis 0 is the sample axis, so every push would be refused; use 1 for NCHW/NCTHW or -1 for channels-last")
                }
                guard (-64...64).contains(a) else {
                    throw .badRequest("invalid_config", "channel_axis \(a) is beyond any tensor's rank; use 1 for NCHW/NCTHW or -1 for channels-last")
                }
                c.channelAxis = a
            case "target_std": c.targetStd = try Self.positive(value, "target_std")
            case "reference": c.reference = value == .null ? nil : try Reference(json: value)
            case "scheduler":
                guard case .object(let s) = value else { throw .badRequest("invalid_config", "scheduler must be an object such as {\"clip_sample\": true, \"clip_sample_range\": 1.0}") }
                for (k, v) in s {
                    switch k {
                    case "clip_sample":
                        guard case .bool(let b) = v else { throw .badRequest("invalid_config", "scheduler.clip_sample must be true or false") }
                        c.clipSample = b
                    case "clip_sample_range": c.clipSampleRange = try Self.positive(v, "scheduler.clip_sample_range")
                    case "thresholding":
                        guard case .bool(let b) = v else { throw .badRequest("invalid_config", "scheduler.thresholding must be true or false") }
                        c.thresholding = b
                    default:
                        throw .badRequest("invalid_config", "unknown scheduler field '\(k)'; use clip_sample, clip_sample_range, thresholding")
                    }
                }
            case "window_batches": c.windowBatches = try Self.count(value, "window_batches", max: 100_000)
            case "drift_tolerance": c.driftTolerance = try Self.positive(value, "drift_tolerance")
            case "clamp_max_fraction":
                let f = try Self.finite(value, "clamp_max_fraction", default: 0)
                guard f > 0, f < 1 else { throw .badRequest("invalid_config", "clamp_max_fraction must be between 0 and 1 (exclusive), e.g. 0.001") }
                c.clampMaxFraction = f
            case "alert_for_batches": c.alertForBatches = try Self.count(value, "alert_for_batches", max: 100_000)
            case _ where Self.detailKeys.contains(key): try c.applyDetail(key, value)
            default:
                throw .badRequest("invalid_config", "unknown config field '\(key)'; known fields: channel_axis, target_std, reference, scheduler, window_batches, drift_tolerance, clamp_max_fraction, alert_for_batches, " + Self.detailKeys.joined(separator: ", "))
            }
        }
        return c
    }

    static func finite(_ v: JSONValue?, _ name: String, default d: Double) throws(APIError) -> Double {
        guard let v else { return d }
        guard let x = v.doubleValue, x.isFinite else { throw .badRequest("invalid_config", "\(name) must be a finite number") }
        return x
    }

    static func positive(_ v: JSONValue?, _ name: String, default d: Double = 1) throws(APIError) -> Double {
        let x = try finite(v, name, default: d)
        guard x > 0 else { throw .badRequest("invalid_config", "\(name) must be positive; got \(x)") }
        return x
    }

    static func count(_ v: JSONValue, _ name: String, max: Int) throws(APIError) -> Int {
        guard case .int(let i) = v, i >= 1, i <= max else {
            throw .badRequest("invalid_config", "\(name) must be an integer from 1 to \(max)")
        }
        return i
    }

    static func numbers(_ v: JSONValue?, _ name: String) throws(APIError) -> [Double] {
        guard case .array(let items)? = v else { throw .badRequest("invalid_config", "\(name) must be a list of numbers, one per channel") }
        var out: [Double] = []
        for item in items {
            guard let x = item.doubleValue, x.isFinite else { throw .badRequest("invalid_config", "\(name) must hold finite numbers only") }
            out.append(x)
        }
        return out
    }
}
