import Foundation
import LatentStats

/// One bucket's cumulative statistics: the pushes that carried its tag.
public struct Bucket: Sendable, Equatable {
    /// Every batch of the bucket merged (sketch and sample spread included).
    public var summary: BatchSummary
    /// Clamp counts of the bucket's batches since `clampVersion` took effect.
    public var clamp: ClampCount?
    /// The reference version `clamp` was counted under.
    public var clampVersion: UInt64
    /// Outlier samples found in the bucket's batches.
    public var outliers: Int
    /// Samples checked for outliers (excluded samples included).
    public var checkedSamples: Int

    public init(channels: Int, clampVersion: UInt64) {
        summary = BatchSummary(channels: channels)
        clamp = nil
        self.clampVersion = clampVersion
        outliers = 0
        checkedSamples = 0
    }

    /// The clamp share under the reference version `version`, if counted under it.
    public func clampFraction(version: UInt64) -> Double? {
        clampVersion == version ? clamp?.fraction : nil
    }
}

/// A stream's per-tag statistics, bounded by `max_buckets`.
///
/// The first `max_buckets` distinct tags each get a bucket, in the order they
/// were first pushed; pushes with any later tag are merged into one bucket
/// named ``otherName``. Untagged pushes are in no bucket. Memory is
/// O(buckets × (C² + sketch)).
public struct BucketTable: Sendable, Equatable {
    /// The bucket that collects the tags beyond `max_buckets`.
    public static let otherName = "(other)"

    /// Buckets by name, ``otherName`` included when it exists.
    public private(set) var buckets: [String: Bucket] = [:]
    /// Named buckets in order of first appearance (``otherName`` not included).
    public private(set) var order: [String] = []
    /// Outlier samples found in the stream (all pushes, tagged or not).
    public var streamOutliers = 0

    public init() {}

    /// The bucket a push with `tag` counts in, given the limit.
    public func bucketName(for tag: String, maxBuckets: Int) -> String {
        if buckets[tag] != nil { return tag }
        if tag == Self.otherName || order.count >= maxBuckets { return Self.otherName }
        return tag
    }

    /// Whether some tags did not get their own bucket.
    public var overflowed: Bool { buckets[Self.otherName] != nil }

    /// Every bucket, named ones in order of first appearance, then ``otherName``.
    public var all: [(name: String, bucket: Bucket)] {
        var out = order.compactMap { n in buckets[n].map { (n, $0) } }
        if let o = buckets[Self.otherName] { out.append((Self.otherName, o)) }
        return out
    }

    /// Adds one applied batch to the bucket of `tag`.
    /// - Returns: the bucket's name.
    @discardableResult
    public mutating func add(tag: String, entry: WindowEntry, outliers: Int, checkedSamples: Int,
                             referenceVersion: UInt64, maxBuckets: Int) -> String {
        let name = bucketName(for: tag, maxBuckets: maxBuckets)
        var b = buckets[name] ?? Bucket(channels: entry.summary.channels, clampVersion: referenceVersion)
        if buckets[name] == nil, name != Self.otherName { order.append(name) }
        b.summary.merge(entry.summary)
        if b.clampVersion != referenceVersion { b.clamp = nil; b.clampVersion = referenceVersion }
        if entry.referenceVersion == referenceVersion, let c = entry.clamp {
            if b.clamp == nil { b.clamp = ClampCount(range: c.range) }
            b.clamp!.merge(c)
        }
        b.outliers += outliers
        b.checkedSamples += checkedSamples
        buckets[name] = b
        return name
    }

    /// Restores a bucket as stored (snapshot), keeping first-appearance order.
    public mutating func restore(name: String, bucket: Bucket) {
        if buckets[name] == nil, name != Self.otherName { order.append(name) }
        buckets[name] = bucket
    }

    /// The names of the named buckets that are in `tags`' complement: what
    /// `(other)` holds is every tag not in ``order``.
    public var namedTags: [String] { order }
}

extension StreamState {
    /// The bucket-mismatch finding of each bucket: its cumulative normalized
    /// std under the stream's reference, by ``DriftTest/varianceDrift(_:normalizer:perChannel:target:tolerance:)``.
    public func bucketFindings() -> [(name: String, bucket: Bucket, finding: DriftTest.Finding)] {
        guard let channels, let n = normalizer(channels: channels) else { return [] }
        return buckets.all.compactMap { name, b in
            guard b.summary.channels == channels,
                  let f = DriftTest.varianceDrift(b.summary, normalizer: n, perChannel: perChannelReference,
                                                  target: config.targetStd, tolerance: config.driftTolerance)
            else { return nil }
            return (name, b, f)
        }
    }
}
