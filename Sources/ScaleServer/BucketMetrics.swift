import Foundation
import LatentStats
import NIOConcurrencyHelpers
import Prometheus
import StreamModel

/// The per-bucket series: `scaled_bucket_normalized_std{stream,bucket}` and
/// `scaled_bucket_samples_total{stream,bucket}`, at most `max_buckets` buckets
/// per stream. When `(other)` exists and the named buckets already fill
/// `max_buckets` series, `(other)` takes the last one (the newest named
/// bucket is left out), so the overflow stays visible.
final class BucketMetrics: Sendable {
    let registry: PrometheusCollectorRegistry

    struct Series: Sendable {
        var normalizedStd: Gauge
        var samples: Counter
        var counted: Int
    }

    private let series = NIOLockedValueBox<[String: [String: Series]]>([:])

    init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    static func exported(_ s: StreamState) -> [(name: String, bucket: Bucket)] {
        let all = s.buckets.all
        let limit = s.config.maxBuckets
        guard all.count > limit else { return all }
        return Array(all.prefix(limit - 1)) + (all.last.map { [$0] } ?? [])
    }

    func update(_ s: StreamState) {
        let findings = Dictionary(s.bucketFindings().map { ($0.name, $0.finding.value) }, uniquingKeysWith: { a, _ in a })
        let wanted = Self.exported(s)
        series.withLockedValue { all in
            var mine = all[s.name] ?? [:]
            let keep = Set(wanted.map(\.name))
            for (name, x) in mine where !keep.contains(name) {
                registry.unregisterGauge(x.normalizedStd)
                registry.unregisterCounter(x.samples)
                mine[name] = nil
            }
            for (name, b) in wanted {
                let l = [("stream", s.name), ("bucket", name)]
                var x = mine[name] ?? Series(
                    normalizedStd: registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "scaled", metricName: "bucket_normalized_std", unitName: "", helpText: "Cumulative std of the bucket's latents after the stream's reference normalization (NaN without a reference)."), labels: l),
                    samples: registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "scaled", metricName: "bucket_samples", unitName: "total", helpText: "Samples pushed with the bucket's tag (max_buckets buckets per stream, then (other))."), labels: l),
                    counted: 0)
                x.samples.increment(by: Int64(Swift.max(b.summary.samples - x.counted, 0)))
                x.counted = b.summary.samples
                x.normalizedStd.set(findings[name] ?? .nan)
                mine[name] = x
            }
            all[s.name] = mine
        }
    }

    func remove(_ stream: String) {
        series.withLockedValue { all in
            guard let mine = all.removeValue(forKey: stream) else { return }
            for x in mine.values {
                registry.unregisterGauge(x.normalizedStd)
                registry.unregisterCounter(x.samples)
            }
        }
    }
}
