import Foundation
import LatentStats

/// A transition of one of a stream's alerts.
public struct AlertEvent: Sendable, Equatable {
    public var stream: String
    public var kind: AlertKind
    public var transition: AlertMachine.Transition

    public init(stream: String, kind: AlertKind, transition: AlertMachine.Transition) {
        self.stream = stream; self.kind = kind; self.transition = transition
    }
}

extension StreamState {
    /// The normalized mean the mean-drift test compares against: 0 where the
    /// reference centres the latents (a shift, latents_mean, or a frozen
    /// estimate), else the normalized mean when the reference was first evaluated.
    public func meanTarget() -> Double? {
        switch reference {
        case nil: return nil
        case .perChannel?: return 0
        case .scalar(_, let shift)?:
            if frozen != nil && config.reference == nil { return 0 }
            return shift != 0 ? 0 : meanBaseline
        }
    }

    /// Whether the reference in use is per channel (drift is then tested per channel).
    public var perChannelReference: Bool {
        if case .perChannel? = reference { return true }
        return false
    }

    /// Evaluates the four flags after a batch was applied (`scaled-protocol(7)`,
    /// "Flags and alerts") and advances their lifecycles.
    public mutating func evaluateFlags(latest: BatchSummary, now: Date) -> [AlertEvent] {
        var events: [AlertEvent] = []
        func feed(_ kind: AlertKind, _ condition: Bool, immediate: Bool = false, _ message: @autoclosure () -> String, _ value: Double?) {
            var m = alerts[kind] ?? AlertMachine()
            for t in m.evaluate(condition, forBatches: config.alertForBatches, immediate: immediate,
                                now: now, message: message(), value: value) {
                events.append(AlertEvent(stream: name, kind: kind, transition: t))
            }
            alerts[kind] = m
        }
        guard let window = windowSummary else { return events }
        let normalizer = self.normalizer(channels: window.channels)
        let target = config.targetStd, tol = config.driftTolerance
        func pct() -> String { String(format: "%g%%", tol * 100) }

        // Variance drift: the window, or the latest batch alone (so a step shows
        // within alert_for_batches batches instead of half a window).
        if let n = normalizer,
           let v = DriftTest.varianceVerdict(window: window, recent: recentSummary, latest: latest, normalizer: n, perChannel: perChannelReference,
                                             target: target, tolerance: tol) {
            let hit = v.shown
            let channel = hit.channel.map { " in channel \($0)" } ?? ""
            let scope = v.scope.rawValue
            func message() -> String { String(format: "normalized std of %@ is %.4g%@ (99.9%% interval %.4g–%.4g), more than %@ from target_std %g: the latents no longer match the reference normalization; recompute it with `scalectl normalization %@ --format diffusers` or check the VAE and data pipeline",
                                 scope, hit.value, channel, hit.lower, hit.upper, pct(), target, name) }
            feed(.varianceDrift, v.condition, message(), v.windowValue)
        } else {
            feed(.varianceDrift, false, "no reference normalization to compare against", nil)
        }

        // Mean drift.
        if let n = normalizer {
            if meanBaseline == nil, config.reference != nil, let c = cumulative {
                meanBaseline = normalizedMoments(c)?.mean
            }
            if let base = meanTarget(),
               let v = DriftTest.meanVerdict(window: window, recent: recentSummary, latest: latest, normalizer: n, perChannel: perChannelReference,
                                             baseline: base, target: target, tolerance: tol) {
                let hit = v.shown
                let channel = hit.channel.map { " in channel \($0)" } ?? ""
                func message() -> String { String(format: "normalized mean of %@ is %.4g%@ (99.9%% interval %.4g–%.4g), more than %@ of target_std from %.4g: the latents shifted; recompute shift_factor/latents_mean with `scalectl normalization %@ --mode shift`",
                                     v.scope.rawValue, hit.value, channel, hit.lower, hit.upper, pct(), base, name) }
                feed(.meanDrift, v.condition, message(), v.windowValue)
            } else {
                feed(.meanDrift, false, "", nil)
            }
        } else {
            feed(.meanDrift, false, "no reference normalization to compare against", nil)
        }

        // Clamping by the scheduler.
        if config.clipSample, normalizer != nil, let c = windowClamp, let fraction = c.fraction {
            func message() -> String {
                let recommended = c.recommendedRange(maxFraction: config.clampMaxFraction)
                let advice = recommended.map { String(format: "set clip_sample=False in the scheduler config, or use clip_sample_range ≥ %.3g", $0) }
                    ?? "set clip_sample=False in the scheduler config"
                return String(format: "%.3g%% of normalized latents in the window fall outside ±%g, where clip_sample clamps them (limit %.3g%%): %@",
                              fraction * 100, config.clipSampleRange, config.clampMaxFraction * 100, advice)
            }
            feed(.clampOutOfRange, fraction > config.clampMaxFraction, message(), fraction)
        } else {
            feed(.clampOutOfRange, false, "", nil)
        }

        // Non-finite values fire at once.
        let bad = window.nonfiniteCount
        let perChannelElements = window.elements / Swift.max(window.channels, 1)
        func nonfiniteMessage() -> String {
            let channels = (0..<window.channels).filter { perChannelElements - window.perChannel[$0].count > 0 }
            return "the window holds \(window.nanCount) NaN, \(window.posInfCount) +inf and \(window.negInfCount) -inf values in channel(s) \(channels.map(String.init).joined(separator: ", ")): the VAE produced non-finite latents — encode in fp32 (or use an fp16-safe VAE such as the SDXL fp16 fix) and drop those batches"
        }
        feed(.nonfinite, bad > 0, immediate: true, nonfiniteMessage(), Double(bad))
        return events
    }
}
