import Foundation
import StreamModel

/// The config keys of buckets and per-sample outliers (`scaled-protocol(7)`, "Stream config").
extension StreamConfig {
    static let detailKeys = ["max_buckets", "outlier_z", "sample_mean_abs_max", "sample_std_max",
                             "outlier_max_fraction", "exclude_nonfinite_samples"]
    static let maxBucketsLimit = 1024

    var detailJSONPairs: [(String, JSONValue)] {
        [
            ("max_buckets", .int(maxBuckets)),
            ("outlier_z", .num(outlierZ)),
            ("sample_mean_abs_max", .num(sampleMeanAbsMax)),
            ("sample_std_max", .num(sampleStdMax)),
            ("outlier_max_fraction", .num(outlierMaxFraction)),
            ("exclude_nonfinite_samples", .bool(excludeNonfiniteSamples)),
        ]
    }

    /// Applies one of ``detailKeys`` from a PUT body.
    mutating func applyDetail(_ key: String, _ value: JSONValue) throws(APIError) {
        switch key {
        case "max_buckets": maxBuckets = try Self.count(value, "max_buckets", max: Self.maxBucketsLimit)
        case "outlier_z": outlierZ = try Self.positive(value, "outlier_z")
        case "sample_mean_abs_max":
            sampleMeanAbsMax = value == .null ? nil : try Self.positive(value, "sample_mean_abs_max")
        case "sample_std_max":
            sampleStdMax = value == .null ? nil : try Self.positive(value, "sample_std_max")
        case "outlier_max_fraction":
            let f = try Self.finite(value, "outlier_max_fraction", default: 0)
            guard f > 0, f < 1 else { throw .badRequest("invalid_config", "outlier_max_fraction must be between 0 and 1 (exclusive), e.g. 0.01") }
            outlierMaxFraction = f
        case "exclude_nonfinite_samples":
            guard case .bool(let b) = value else { throw .badRequest("invalid_config", "exclude_nonfinite_samples must be true or false") }
            excludeNonfiniteSamples = b
        default:
            throw .badRequest("invalid_config", "unknown config field '\(key)'")
        }
    }
}
