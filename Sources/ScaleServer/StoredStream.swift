import Foundation
import StreamModel

/// A stream's config as the stream row stores it: the same object as the API's
/// `config` (`scaled-protocol(7)`, "Stream config"). Decoding checks every
/// value as `PUT` does, and every field is required: a stored config that does
/// not parse is damage, never a reason to use defaults.
struct StoredConfig: Codable, Equatable {
    var config: StreamConfig

    init(_ config: StreamConfig) { self.config = config }

    enum Keys: String, CodingKey {
        case channelAxis = "channel_axis", targetStd = "target_std", reference, scheduler
        case windowBatches = "window_batches", driftTolerance = "drift_tolerance"
        case clampMaxFraction = "clamp_max_fraction", alertForBatches = "alert_for_batches"
        case maxBuckets = "max_buckets", outlierZ = "outlier_z", sampleMeanAbsMax = "sample_mean_abs_max"
        case sampleStdMax = "sample_std_max", outlierMaxFraction = "outlier_max_fraction"
        case excludeNonfiniteSamples = "exclude_nonfinite_samples"
    }

    enum SchedulerKeys: String, CodingKey {
        case clipSample = "clip_sample", clipSampleRange = "clip_sample_range", thresholding
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        var config = StreamConfig()
        config.channelAxis = try c.decode(Int.self, forKey: .channelAxis)
        config.targetStd = try c.positive(.targetStd)
        config.reference = try c.decodeIfPresent(StoredReference.self, forKey: .reference)?.reference
        let s = try c.nestedContainer(keyedBy: SchedulerKeys.self, forKey: .scheduler)
        config.clipSample = try s.decode(Bool.self, forKey: .clipSample)
        config.clipSampleRange = try s.positive(.clipSampleRange)
        config.thresholding = try s.decode(Bool.self, forKey: .thresholding)
        config.windowBatches = try c.decode(Int.self, forKey: .windowBatches)
        config.driftTolerance = try c.positive(.driftTolerance)
        config.clampMaxFraction = try c.positive(.clampMaxFraction)
        config.alertForBatches = try c.decode(Int.self, forKey: .alertForBatches)
        try Self.decodeDetails(c, into: &config)
        guard config.windowBatches >= 1, config.alertForBatches >= 1, config.clampMaxFraction < 1 else {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath,
                debugDescription: "window_batches and alert_for_batches must be at least 1 and clamp_max_fraction below 1"))
        }
        self.config = config
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(config.channelAxis, forKey: .channelAxis)
        try c.encode(config.targetStd, forKey: .targetStd)
        try c.encode(config.reference.map(StoredReference.init), forKey: .reference)
        var s = c.nestedContainer(keyedBy: SchedulerKeys.self, forKey: .scheduler)
        try s.encode(config.clipSample, forKey: .clipSample)
        try s.encode(config.clipSampleRange, forKey: .clipSampleRange)
        try s.encode(config.thresholding, forKey: .thresholding)
        try c.encode(config.windowBatches, forKey: .windowBatches)
        try c.encode(config.driftTolerance, forKey: .driftTolerance)
        try c.encode(config.clampMaxFraction, forKey: .clampMaxFraction)
        try c.encode(config.alertForBatches, forKey: .alertForBatches)
        try encodeDetails(&c)
    }
}

/// A reference as stored: `{scaling_factor, shift_factor}` or
/// `{latents_mean, latents_std, scaling_factor}`.
struct StoredReference: Codable, Equatable {
    var reference: Reference

    init(_ reference: Reference) { self.reference = reference }

    enum Keys: String, CodingKey {
        case scalingFactor = "scaling_factor", shiftFactor = "shift_factor"
        case latentsMean = "latents_mean", latentsStd = "latents_std"
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let factor = try c.positive(.scalingFactor)
        if c.contains(.latentsMean) {
            let mean = try c.decode([Double].self, forKey: .latentsMean)
            let std = try c.decode([Double].self, forKey: .latentsStd)
            guard mean.count == std.count, !mean.isEmpty, std.allSatisfy({ $0 > 0 && $0.isFinite }), mean.allSatisfy(\.isFinite) else {
                throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath,
                    debugDescription: "latents_mean and latents_std must be non-empty lists of one finite value per channel, std positive"))
            }
            reference = .perChannel(latentsMean: mean, latentsStd: std, scalingFactor: factor)
        } else {
            let shift = try c.decode(Double.self, forKey: .shiftFactor)
            guard shift.isFinite else {
                throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [Keys.shiftFactor], debugDescription: "not finite"))
            }
            reference = .scalar(scalingFactor: factor, shiftFactor: shift)
        }
    }

    /// The document `encode(to:)` writes, as a ``JSONValue``.
    var json: JSONValue {
        switch reference {
        case let .scalar(f, s): .object([(Keys.scalingFactor.rawValue, .number(f)), (Keys.shiftFactor.rawValue, .number(s))])
        case let .perChannel(m, sd, f):
            .object([(Keys.latentsMean.rawValue, .array(m.map { .number($0) })), (Keys.latentsStd.rawValue, .array(sd.map { .number($0) })),
                     (Keys.scalingFactor.rawValue, .number(f))])
        }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        switch reference {
        case let .scalar(f, s):
            try c.encode(f, forKey: .scalingFactor); try c.encode(s, forKey: .shiftFactor)
        case let .perChannel(m, sd, f):
            try c.encode(m, forKey: .latentsMean); try c.encode(sd, forKey: .latentsStd); try c.encode(f, forKey: .scalingFactor)
        }
    }
}

/// What the stream row keeps of a stream's state beyond its config: what the
/// journal cannot rebuild (a frozen reference, the alert lifecycles).
struct StoredState: Codable, Equatable {
    struct Alert: Codable, Equatable {
        var phase: AlertPhase
        var consecutive: Int
        /// Unix seconds.
        var since: Double?
        var message: String
        var value: Double?
    }

    struct Frozen: Codable, Equatable {
        var reference: StoredReference
        /// Unix seconds.
        var frozenAt: Double

        enum CodingKeys: String, CodingKey { case reference, frozenAt = "frozen_at" }
    }

    var alerts: [String: Alert]
    var meanBaseline: Double?
    var channels: Int?
    var frozen: Frozen?
    var referenceVersion: UInt64
    /// Unix seconds.
    var lastPushAt: Double?

    enum CodingKeys: String, CodingKey {
        case alerts, meanBaseline = "mean_baseline", channels, frozen
        case referenceVersion = "reference_version", lastPushAt = "last_push_at"
    }

    init(_ s: StreamState) {
        alerts = Dictionary(uniqueKeysWithValues: s.alerts.map { kind, m in
            (kind.rawValue, Alert(phase: m.phase, consecutive: m.consecutive, since: m.since?.timeIntervalSince1970,
                                  message: m.message, value: m.value.finite))
        })
        meanBaseline = s.meanBaseline.finite
        channels = s.channels
        frozen = s.frozen.map { Frozen(reference: StoredReference($0.reference), frozenAt: $0.frozenAt.timeIntervalSince1970) }
        referenceVersion = s.referenceVersion
        lastPushAt = s.lastPushAt?.timeIntervalSince1970
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        alerts = try c.decode([String: Alert].self, forKey: .alerts)
        if let unknown = alerts.keys.first(where: { AlertKind(rawValue: $0) == nil }) {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [CodingKeys.alerts],
                debugDescription: "unknown alert kind '\(unknown)'"))
        }
        meanBaseline = try c.decodeIfPresent(Double.self, forKey: .meanBaseline)
        channels = try c.decodeIfPresent(Int.self, forKey: .channels)
        frozen = try c.decodeIfPresent(Frozen.self, forKey: .frozen)
        referenceVersion = try c.decode(UInt64.self, forKey: .referenceVersion)
        lastPushAt = try c.decodeIfPresent(Double.self, forKey: .lastPushAt)
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(alerts, forKey: .alerts)
        try c.encode(meanBaseline, forKey: .meanBaseline)
        try c.encode(channels, forKey: .channels)
        try c.encode(frozen, forKey: .frozen)
        try c.encode(referenceVersion, forKey: .referenceVersion)
        try c.encode(lastPushAt, forKey: .lastPushAt)
    }

    /// The document `encode(to:)` writes, as a ``JSONValue``, so that a push
    /// writes it with ``JSONValue/write(into:escapingSlashes:)`` instead of
    /// through `JSONEncoder` (the same bytes, `StoredStateJSONTests`); nil in
    /// the one case JSONValue cannot hold (a reference version past `Int.max`).
    var json: JSONValue? {
        guard referenceVersion <= UInt64(Int.max) else { return nil }
        return .object([
            (CodingKeys.alerts.rawValue, .object(alerts.map { key, a in
                var fields: [(String, JSONValue)] = [("phase", .string(a.phase.rawValue)), ("consecutive", .int(a.consecutive)),
                                                     ("message", .string(a.message))]
                if let since = a.since { fields.append(("since", .number(since))) }
                if let value = a.value { fields.append(("value", .number(value))) }
                return (key, .object(fields))
            })),
            (CodingKeys.meanBaseline.rawValue, meanBaseline.map { .number($0) } ?? .null),
            (CodingKeys.channels.rawValue, channels.map { .int($0) } ?? .null),
            (CodingKeys.frozen.rawValue, frozen.map { f in .object([(Frozen.CodingKeys.reference.rawValue, f.reference.json),
                                                                 (Frozen.CodingKeys.frozenAt.rawValue, .number(f.frozenAt))]) } ?? .null),
            (CodingKeys.referenceVersion.rawValue, .int(Int(referenceVersion))),
            (CodingKeys.lastPushAt.rawValue, lastPushAt.map { .number($0) } ?? .null),
        ])
    }

    /// The stored document: ``json`` written with escaped slashes, as
    /// `StreamPersistence.encoder` writes it.
    func encoded() -> Data {
        if let json { return Data(json.bytes(escapingSlashes: true)) }
        return try! StreamPersistence.encoder.encode(self)   // only finite numbers and strings: cannot fail
    }

    func apply(to s: inout StreamState) {
        s.channels = channels
        s.referenceVersion = referenceVersion
        s.lastPushAt = lastPushAt.map { Date(timeIntervalSince1970: $0) }
        s.meanBaseline = meanBaseline
        for (key, a) in alerts {
            guard let kind = AlertKind(rawValue: key) else { continue }  // refused when decoding
            s.alerts[kind] = AlertMachine(phase: a.phase, consecutive: a.consecutive,
                                          since: a.since.map { Date(timeIntervalSince1970: $0) },
                                          message: a.message, value: a.value)
        }
        s.frozen = frozen.map { FrozenReference(reference: $0.reference.reference, frozenAt: Date(timeIntervalSince1970: $0.frozenAt)) }
    }
}

private extension Optional<Double> {
    /// JSON has no NaN or infinity: such a value is stored as null.
    var finite: Double? { flatMap { $0.isFinite ? $0 : nil } }
}

extension KeyedDecodingContainer {
    func positive(_ key: Key) throws -> Double {
        let x = try decode(Double.self, forKey: key)
        guard x.isFinite, x > 0 else {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath + [key], debugDescription: "must be a positive finite number, got \(x)"))
        }
        return x
    }
}
