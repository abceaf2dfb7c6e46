import Foundation
import LatentStats
import ScaleStore
import StreamModel

/// The bucket and per-sample parts of the stored blobs.
///
/// Both are a trailing block after what older versions wrote, so blobs
/// written before buckets existed still decode (with no details), and the
/// block's leading version byte lets it change later.
///
/// Summaries and clamp counts are in the format the summary's version byte
/// names (``StreamPersistence/storageFormat`` when written by this build).
///
/// - Journal blob: `…, block(details)` with details = version 1, samples
///   checked, outliers, per-sample finite means, per-sample finite stds.
/// - Snapshot blob: `…, block(buckets)` with buckets = version 1, the
///   stream's outlier total, then per bucket (named ones in order of first
///   appearance, then `(other)`): name, clamp version, outliers, samples
///   checked, summary, clamp count.
extension StreamPersistence {
    static let detailsVersion: UInt8 = 1

    /// Journal blob with the per-sample details.
    static func encode(_ e: WindowEntry, details: SampleWindow.Batch, format: SummaryFormat = storageFormat) -> Data {
        var w = ByteWriter()
        w.u64(e.referenceVersion)
        w.block(e.summary.encoded(format))
        w.block(e.clamp?.encoded(format) ?? [])
        var d = ByteWriter()
        d.u8(detailsVersion)
        d.int(details.samples); d.int(details.outliers)
        d.doubles(details.means); d.doubles(details.stds)
        w.block(d.bytes)
        return Data(w.bytes)
    }

    /// A journal blob's entry and, when it has them, its per-sample details.
    static func decodeWithDetails(_ data: Data) throws -> (WindowEntry, SampleWindow.Batch?) {
        var r = ByteReader([UInt8](data))
        let entry = try readEntry(&r)
        if r.isAtEnd { return (entry, nil) }
        var d = ByteReader(try r.block())
        let v = try d.u8()
        guard v == detailsVersion else { throw BinaryCodingError.unsupportedVersion(v) }
        let samples = try d.int(), outliers = try d.int()
        let means = try d.doubles(), stds = try d.doubles()
        guard samples >= 0, outliers >= 0, outliers <= samples, means.count == stds.count, means.count <= samples, d.isAtEnd else {
            throw BinaryCodingError.inconsistent("sample details")
        }
        return (entry, SampleWindow.Batch(means: means, stds: stds, samples: samples, outliers: outliers))
    }

    /// Snapshot blob: cumulative, clamp since the reference, and the buckets.
    static func snapshotBlobWithBuckets(_ s: StreamState, format: SummaryFormat = storageFormat) -> Data {
        var data = snapshotBlob(s, format: format)
        guard !data.isEmpty else { return data }
        var w = ByteWriter()
        w.u8(detailsVersion)
        w.int(s.buckets.streamOutliers)
        let all = s.buckets.all
        w.int(all.count)
        for (name, b) in all {
            w.block(Array(name.utf8))
            w.u64(b.clampVersion)
            w.int(b.outliers); w.int(b.checkedSamples)
            w.block(b.summary.encoded(format))
            w.block(b.clamp?.encoded(format) ?? [])
        }
        var outer = ByteWriter()
        outer.block(w.bytes)
        data.append(contentsOf: outer.bytes)
        return data
    }

    /// The buckets a snapshot blob holds (empty for blobs written before buckets existed).
    static func decodeBuckets(_ data: Data) throws -> BucketTable {
        var r = ByteReader([UInt8](data))
        _ = try r.u64(); _ = try r.block(); _ = try r.block()
        var table = BucketTable()
        if r.isAtEnd { return table }
        var d = ByteReader(try r.block())
        let v = try d.u8()
        guard v == detailsVersion else { throw BinaryCodingError.unsupportedVersion(v) }
        table.streamOutliers = try d.int()
        let count = try d.count(max: StreamConfig.maxBucketsLimit + 1)
        for _ in 0..<count {
            guard let name = String(bytes: try d.block(), encoding: .utf8) else { throw BinaryCodingError.inconsistent("bucket name") }
            let version = try d.u64()
            let outliers = try d.int(), checked = try d.int()
            var b = Bucket(channels: 1, clampVersion: version)
            let (summary, format) = try readSummary(&d)
            b.summary = summary
            let clamp = try d.block()
            b.clamp = clamp.isEmpty ? nil : try ClampCount(encoded: clamp, format: format)
            b.outliers = outliers; b.checkedSamples = checked
            table.restore(name: name, bucket: b)
        }
        guard d.isAtEnd, r.isAtEnd else { throw BinaryCodingError.inconsistent("trailing bytes after buckets") }
        return table
    }

    static func detailsBlob(_ data: Data, stream: String, field: String) throws -> (WindowEntry, SampleWindow.Batch?) {
        do { return try decodeWithDetails(data) } catch {
            throw Damaged(stream: stream, field: field, reason: "\(error)")
        }
    }
}
