import Foundation
import StreamModel

/// The bucket and outlier keys of a stored config. Rows written before these
/// keys existed lack them and get the defaults; a key that is present must
/// parse, or the stream is refused as damaged (as every other stored value).
extension StoredConfig {
    static func decodeDetails(_ c: KeyedDecodingContainer<Keys>, into config: inout StreamConfig) throws {
        if c.contains(.maxBuckets) {
            let n = try c.decode(Int.self, forKey: .maxBuckets)
            guard (1...StreamConfig.maxBucketsLimit).contains(n) else {
                throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [Keys.maxBuckets],
                    debugDescription: "max_buckets must be from 1 to \(StreamConfig.maxBucketsLimit), got \(n)"))
            }
            config.maxBuckets = n
        }
        if c.contains(.outlierZ) { config.outlierZ = try c.positive(.outlierZ) }
        if c.contains(.sampleMeanAbsMax), try !c.decodeNil(forKey: .sampleMeanAbsMax) {
            config.sampleMeanAbsMax = try c.positive(.sampleMeanAbsMax)
        }
        if c.contains(.sampleStdMax), try !c.decodeNil(forKey: .sampleStdMax) {
            config.sampleStdMax = try c.positive(.sampleStdMax)
        }
        if c.contains(.outlierMaxFraction) {
            let f = try c.positive(.outlierMaxFraction)
            guard f < 1 else {
                throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [Keys.outlierMaxFraction],
                    debugDescription: "outlier_max_fraction must be below 1, got \(f)"))
            }
            config.outlierMaxFraction = f
        }
        if c.contains(.excludeNonfiniteSamples) {
            config.excludeNonfiniteSamples = try c.decode(Bool.self, forKey: .excludeNonfiniteSamples)
        }
    }

    func encodeDetails(_ c: inout KeyedEncodingContainer<Keys>) throws {
        try c.encode(config.maxBuckets, forKey: .maxBuckets)
        try c.encode(config.outlierZ, forKey: .outlierZ)
        try c.encode(config.sampleMeanAbsMax, forKey: .sampleMeanAbsMax)
        try c.encode(config.sampleStdMax, forKey: .sampleStdMax)
        try c.encode(config.outlierMaxFraction, forKey: .outlierMaxFraction)
        try c.encode(config.excludeNonfiniteSamples, forKey: .excludeNonfiniteSamples)
    }
}
