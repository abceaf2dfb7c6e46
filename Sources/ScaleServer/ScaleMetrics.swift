import Foundation
import LatentStats
import StreamModel
import NIOConcurrencyHelpers
import Prometheus

/// The Prometheus metrics of `scaled-protocol(7)`, kept in a swift-prometheus registry.
///
/// Per-stream series are created with the stream and removed when it is
/// deleted or reset (a reset restarts its counters, which Prometheus
/// treats as a counter reset). Gauges without a meaningful value (no
/// reference yet, clip off) export NaN.
public final class ScaleMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let pushDuration: ValueHistogram
    private let series = NIOLockedValueBox<[String: StreamSeries]>([:])
    let bucketMetrics: BucketMetrics

    struct StreamSeries: Sendable {
        var batches: Counter
        var elements: Counter
        var nonfinite: [String: Counter]
        var normalizedStd: Gauge
        var scalingFactor: Gauge
        var clampFraction: Gauge
        var lastPush: Gauge
        var alertFiring: [AlertKind: Gauge]
        var counted: (batches: Int, elements: Int, nan: Int, posinf: Int, neginf: Int)
    }

    public init() {
        bucketMetrics = BucketMetrics(registry: registry)
        pushDuration = registry.makeValueHistogram(
            descriptor: MetricNameDescriptor(namespace: "scaled", metricName: "push_duration", unitName: "seconds",
                                             helpText: "Time to validate, summarize and durably apply one push."),
            buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])
    }

    func d(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "scaled", metricName: name, unitName: unit, helpText: help)
    }

    private func makeSeries(_ stream: String) -> StreamSeries {
        let l = [("stream", stream)]
        return StreamSeries(
            batches: registry.makeCounter(descriptor: d("batches", "total", "Batches pushed to the stream."), labels: l),
            elements: registry.makeCounter(descriptor: d("elements", "total", "Latent elements pushed to the stream."), labels: l),
            nonfinite: Dictionary(uniqueKeysWithValues: ["nan", "posinf", "neginf"].map { kind in
                (kind, registry.makeCounter(descriptor: d("nonfinite", "total", "Non-finite latent elements pushed, by kind."),
                                            labels: l + [("kind", kind)]))
            }),
            normalizedStd: registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "scaled", metricName: "normalized_std", unitName: "", helpText: "Std of the window after the reference normalization (NaN without a reference)."), labels: l),
            scalingFactor: registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "scaled", metricName: "scaling_factor_estimate", unitName: "", helpText: "Estimated scaling_factor (target_std / std) over all pushed latents."), labels: l),
            clampFraction: registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "scaled", metricName: "clamp_fraction", unitName: "", helpText: "Share of normalized window values outside the scheduler's clip_sample_range (NaN when clip_sample is off)."), labels: l),
            lastPush: registry.makeGauge(descriptor: d("last_push_timestamp", "seconds", "Unix time of the stream's last push (0 if never)."), labels: l),
            alertFiring: Dictionary(uniqueKeysWithValues: AlertKind.allCases.map { kind in
                (kind, registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "scaled", metricName: "alert_firing", unitName: "", helpText: "1 while the alert is firing, else 0."),
                                          labels: l + [("alert", kind.rawValue)]))
            }),
            counted: (0, 0, 0, 0, 0))
    }

    /// Brings a stream's series up to date with its state.
    func update(_ s: StreamState) {
        series.withLockedValue { all in
            var x = all[s.name] ?? makeSeries(s.name)
            let c = s.cumulative
            let now = (batches: c?.batches ?? 0, elements: c?.elements ?? 0, nan: c?.nanCount ?? 0,
                       posinf: c?.posInfCount ?? 0, neginf: c?.negInfCount ?? 0)
            x.batches.increment(by: Int64(Swift.max(now.batches - x.counted.batches, 0)))
            x.elements.increment(by: Int64(Swift.max(now.elements - x.counted.elements, 0)))
            x.nonfinite["nan"]!.increment(by: Int64(Swift.max(now.nan - x.counted.nan, 0)))
            x.nonfinite["posinf"]!.increment(by: Int64(Swift.max(now.posinf - x.counted.posinf, 0)))
            x.nonfinite["neginf"]!.increment(by: Int64(Swift.max(now.neginf - x.counted.neginf, 0)))
            x.counted = now
            x.normalizedStd.set(s.windowSummary.flatMap { s.normalizedMoments($0)?.std } ?? .nan)
            x.scalingFactor.set(s.estimate?.scalingFactor ?? .nan)
            x.clampFraction.set(s.config.clipSample ? (s.windowClampFraction ?? .nan) : .nan)
            x.lastPush.set(s.lastPushAt?.timeIntervalSince1970 ?? 0)
            for kind in AlertKind.allCases { x.alertFiring[kind]!.set(s.alerts[kind]?.phase == .firing ? 1.0 : 0.0) }
            all[s.name] = x
        }
        bucketMetrics.update(s)
    }

    /// Drops a stream's series (delete, or reset before re-creating them).
    func remove(_ stream: String) {
        series.withLockedValue { all in
            guard let x = all.removeValue(forKey: stream) else { return }
            registry.unregisterCounter(x.batches)
            registry.unregisterCounter(x.elements)
            x.nonfinite.values.forEach(registry.unregisterCounter)
            registry.unregisterGauge(x.normalizedStd)
            registry.unregisterGauge(x.scalingFactor)
            registry.unregisterGauge(x.clampFraction)
            registry.unregisterGauge(x.lastPush)
            x.alertFiring.values.forEach(registry.unregisterGauge)
        }
        bucketMetrics.remove(stream)
    }

    func recordPush(seconds: Double) { pushDuration.record(seconds) }

    /// The Prometheus text exposition.
    public func exposition() -> String { registry.emitToString() }
}
