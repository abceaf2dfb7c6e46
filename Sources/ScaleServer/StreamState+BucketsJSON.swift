import Foundation
import LatentStats
import StreamModel

extension StreamState {
    /// The status's `buckets`: one entry per bucket, keyed by tag, named buckets
    /// in order of first appearance, then `(other)`.
    var bucketsJSON: JSONValue {
        let n = channels.flatMap { normalizer(channels: $0) }
        return .object(buckets.all.map { name, b in
            let s = b.summary
            let estimate = try? s.normalization(mode: .shift, method: .std, targetStd: config.targetStd)
            let finding = n.flatMap {
                DriftTest.varianceDrift(s, normalizer: $0, perChannel: perChannelReference,
                                        target: config.targetStd, tolerance: config.driftTolerance)
            }
            return (name, .object([
                ("batches", .int(s.batches)),
                ("samples", .int(s.samples)),
                ("elements", .int(s.elements)),
                ("mean", .num(s.total.count > 0 ? s.total.mean : nil)),
                ("std", .num(s.total.std)),
                ("scaling_factor", .num(estimate?.scalingFactor)),
                ("scaling_factor_ci95", estimate.map { .nums($0.scalingFactorCI95) } ?? .null),
                ("shift_factor", .num(estimate?.shiftFactor)),
                ("normalized_std", .num(finding?.value)),
                ("normalized_std_interval", finding.map { .nums([$0.lower, $0.upper]) } ?? .null),
                ("mismatch", finding.map { .bool($0.outside) } ?? .null),
                ("clamp_fraction", config.clipSample ? .num(b.clampFraction(version: referenceVersion)) : .null),
                ("nonfinite", .int(s.nonfiniteCount)),
                ("outliers", .int(b.outliers)),
            ]))
        })
    }

    /// The status's `bucket_info`: how many tags got a bucket, and whether some did not.
    var bucketInfoJSON: JSONValue {
        .object([
            ("count", .int(buckets.order.count)),
            ("max_buckets", .int(config.maxBuckets)),
            ("overflowed", .bool(buckets.overflowed)),
        ])
    }

    /// The status's `outliers`: per-sample outliers in the stream and the window.
    var outliersJSON: JSONValue {
        let (bad, checked) = sampleWindow.counts(last: config.windowBatches)
        return .object([
            ("total", .int(buckets.streamOutliers)),
            ("window", .int(bad)),
            ("window_samples", .int(checked)),
            ("window_fraction", .num(checked > 0 ? Double(bad) / Double(checked) : nil)),
            ("max_fraction", .num(config.outlierMaxFraction)),
        ])
    }

    /// The status's extra members for buckets and outliers.
    var detailStatusPairs: [(String, JSONValue)] {
        [("buckets", bucketsJSON), ("bucket_info", bucketInfoJSON), ("outliers", outliersJSON)]
    }
}
