import Foundation
import LatentStats
import ScaleStore
import StreamModel

extension StreamActor {
    /// What a push's outlier check needs from the stream: the window's
    /// per-sample values and the config (the sorting then runs off the actor).
    func outlierReference() -> (means: [Double], stds: [Double], sorted: Bool, config: StreamConfig) {
        let v = state.sampleWindow.referenceValues(last: state.config.windowBatches)
        return (v.means, v.stds, v.sorted, state.config)
    }

    /// The most outliers one push answer lists (`outliers_total` counts them all).
    static let outliersListed = 32

    /// The push answer's `bucket`, `excluded`, `outliers` and `outliers_total`.
    static func findingsJSONPairs(_ f: PushFindings, samples: [SampleStat]) -> [(String, JSONValue)] {
        let excluded = samples.filter(\.excluded)
        return [
            ("bucket", .str(f.bucket)),
            ("excluded", .object([("samples", .int(excluded.count)),
                                  ("indices", .array(samples.indices.filter { samples[$0].excluded }.prefix(outliersListed).map { .int($0) }))])),
            ("outliers", .array(f.outliers.prefix(outliersListed).map(\.json))),
            ("outliers_total", .int(f.outliers.count)),
        ]
    }

    /// `GET …/normalization?tag=T`: the normalization of one bucket's cumulative statistics.
    func normalization(mode: NormalizationMode, method: NormalizationMethod, diffusers: Bool, tag: String) throws(APIError) -> JSONValue {
        guard let b = state.buckets.buckets[tag] else {
            let known = state.buckets.all.map(\.name).prefix(20).joined(separator: ", ")
            throw APIError(.notFound, "bucket_not_found", "stream '\(state.name)' has no bucket '\(tag)'" + (known.isEmpty ? "; push with tag= to create buckets" : "; its buckets are: \(known)"))
        }
        do {
            let n = try b.summary.normalization(mode: mode, method: method, targetStd: state.config.targetStd)
            return diffusers ? n.diffusersJSON : n.json
        } catch { throw APIError(error) }
    }

    /// `GET …/history?tag=T`: the newest `limit` journal rows of one bucket
    /// (for `(other)`: of every tag without its own bucket), oldest first.
    func history(limit: Int, tag: String) throws(APIError) -> JSONValue {
        let rows: [JournalEntry]
        do {
            if tag == BucketTable.otherName {
                rows = try db.history(stream: state.name, limit: limit, tagNotIn: state.buckets.namedTags)
            } else {
                rows = try db.history(stream: state.name, limit: limit, tag: tag)
            }
        } catch {
            throw APIError(.internalServerError, "storage_failed", "could not read the history: \(error)")
        }
        return Self.historyJSON(stream: state.name, rows: rows)
    }

    static func historyJSON(stream: String, rows: [JournalEntry]) -> JSONValue {
        .object([
            ("stream", .string(stream)),
            ("history", .array(rows.map { r in
                .object([
                    ("seq", .int(Int(r.seq))),
                    ("step", r.step.map { .int(Int($0)) } ?? .null),
                    ("tag", .str(r.tag)),
                    ("time", Timestamp.json(r.time)),
                    ("samples", .int(r.samples)),
                    ("mean", .num(r.mean)),
                    ("std", .num(r.std)),
                    ("normalized_std", .num(r.normalizedStd)),
                    ("clamp_fraction", .num(r.clampFraction)),
                    ("nonfinite", .int(r.nonfinite)),
                ])
            })),
        ])
    }
}

extension SampleOutlier {
    /// One entry of the push answer's `outliers`.
    var json: JSONValue {
        .object([
            ("index", .int(index)),
            ("mean", .num(stat.mean)),
            ("std", .num(stat.std)),
            ("z", .num(z)),
            ("nonfinite", .bool(stat.nonfinite > 0)),
            ("nan", .int(stat.nan)),
            ("inf", .int(stat.inf)),
            ("excluded", .bool(stat.excluded)),
            ("reasons", .array(reasons.map { .string($0.rawValue) })),
        ])
    }
}
