import Foundation
import LatentStats

extension StreamState {
    /// Evaluates `bucket_mismatch` and `sample_outlier` after a batch was
    /// applied, and advances their lifecycles (as ``evaluateFlags(latest:now:)``
    /// does for the others).
    public mutating func evaluateDetailFlags(now: Date) -> [AlertEvent] {
        var events: [AlertEvent] = []
        func feed(_ kind: AlertKind, _ condition: Bool, _ message: @autoclosure () -> String, _ value: Double?) {
            var m = alerts[kind] ?? AlertMachine()
            for t in m.evaluate(condition, forBatches: config.alertForBatches, now: now, message: message(), value: value) {
                events.append(AlertEvent(stream: name, kind: kind, transition: t))
            }
            alerts[kind] = m
        }

        // Bucket mismatch: some bucket's cumulative normalized std is
        // significantly outside the band, by the variance-drift test.
        let findings = bucketFindings()
        let outside = findings.filter { $0.finding.outside }
        if outside.isEmpty {
            feed(.bucketMismatch, false, "", findings.isEmpty ? nil : Double(0))
        } else {
            let pct = String(format: "%g%%", config.driftTolerance * 100)
            let refFactor = reference.map { r -> String in
                switch r {
                case let .scalar(f, _): return String(format: "%.5g", f)
                case let .perChannel(_, _, f): return String(format: "per-channel (scaling_factor %.5g)", f)
                }
            } ?? "?"
            let parts = outside.prefix(8).map { b -> String in
                let n = try? b.bucket.summary.normalization(mode: .shift, method: .std, targetStd: config.targetStd)
                let factor = n.map { String(format: "scaling_factor %.4g (95%% CI %.4g–%.4g)", $0.scalingFactor,
                                            $0.scalingFactorCI95?.first ?? .nan, $0.scalingFactorCI95?.last ?? .nan) } ?? "no estimate"
                let channel = b.finding.channel.map { " in channel \($0)" } ?? ""
                return String(format: "bucket %@: %@ vs reference %@, normalized std %.4g%@ (99.9%% interval %.4g–%.4g)",
                              b.name, factor, refFactor, b.finding.value, channel, b.finding.lower, b.finding.upper)
            }
            let more = outside.count > 8 ? "; and \(outside.count - 8) more" : ""
            let message = "\(outside.count) of \(findings.count) buckets do not match the reference normalization (normalized std more than \(pct) from target_std \(String(format: "%g", config.targetStd))): "
                + parts.joined(separator: "; ") + more
                + ": one scaling factor does not hold for every bucket; see `scalectl status \(name)` and `GET …/normalization?tag=BUCKET`"
            let worst = outside.max { Swift.abs($0.finding.value - config.targetStd) < Swift.abs($1.finding.value - config.targetStd) }
            feed(.bucketMismatch, true, message, worst?.finding.value)
        }

        // Sample outliers: the window's share of outlier samples.
        let (bad, checked) = sampleWindow.counts(last: config.windowBatches)
        if checked > 0 {
            let share = Double(bad) / Double(checked)
            feed(.sampleOutlier, share > config.outlierMaxFraction,
                 String(format: "%d of %d samples in the window (%.3g%%) are outliers or hold NaN/inf (limit %.3g%%): the push answers' outliers name them; `scalectl push` lists their files so they can be re-encoded or dropped",
                        bad, checked, share * 100, config.outlierMaxFraction * 100), share)
        } else {
            feed(.sampleOutlier, false, "", nil)
        }
        return events
    }
}
