import Foundation
import LatentStats
import StreamModel

/// `GET …/histogram`'s query, parsed.
struct HistogramQuery: Sendable {
    enum Scope: String, CaseIterable, Sendable { case window, cumulative }
    var scope = Scope.window
    /// nil: normalized when the stream has a reference.
    var normalized: Bool?
    var bins = 100
    var lo: Double?, hi: Double?

    static let maxBins = 1000

    init(_ q: (String) -> String?) throws(APIError) {
        if let s = q("scope") {
            guard let v = Scope(rawValue: s) else { throw .badRequest("invalid_query", "scope '\(s)' is unknown; use window or cumulative") }
            scope = v
        }
        if let s = q("normalized") {
            switch s {
            case "true", "1": normalized = true
            case "false", "0": normalized = false
            default: throw .badRequest("invalid_query", "normalized must be true or false")
            }
        }
        if let s = q("bins") {
            guard let v = Int(s), (1...Self.maxBins).contains(v) else {
                throw .badRequest("invalid_query", "bins must be an integer from 1 to \(Self.maxBins)")
            }
            bins = v
        }
        func number(_ name: String) throws(APIError) -> Double? {
            guard let s = q(name) else { return nil }
            guard let v = Double(s), v.isFinite else { throw .badRequest("invalid_query", "\(name) must be a finite number") }
            return v
        }
        lo = try number("lo")
        hi = try number("hi")
        if let lo, let hi, lo >= hi { throw .badRequest("invalid_query", "lo must be below hi") }
    }
}

extension StreamActor {
    /// `GET …/histogram`: the window's or the cumulative values, raw or under
    /// the reference in use, apportioned from the quantile sketch (see ``Histogram``).
    func histogram(_ q: HistogramQuery) throws(APIError) -> JSONValue {
        let summary = q.scope == .window ? state.windowSummaryWithSketch : state.cumulative
        guard let summary, summary.total.count > 0 else { throw APIError(NormalizationError.noData) }
        let normalized = q.normalized ?? (state.reference != nil)
        var shift = 0.0, scale = 1.0
        if normalized {
            switch state.reference {
            case nil:
                throw APIError(.conflict, "no_reference", "stream '\(state.name)' has no reference normalization yet; declare one with PUT /v1/streams/\(state.name), freeze the estimate, or ask normalized=false")
            case let .scalar(f, s)?:
                shift = s; scale = f
            case let .perChannel(m, sd, f)?:
                guard m.count == 1 else {
                    throw APIError(.conflict, "per_channel_reference", "the sketch holds all channels together, so values cannot be normalized per channel; ask normalized=false, or see each channel's mean and std in the status")
                }
                shift = m[0]; scale = f / sd[0]
            }
        }
        let a = (summary.total.min - shift) * scale, b = (summary.total.max - shift) * scale
        // By default the bins span the data's exact range.
        var lo = q.lo ?? Swift.min(a, b), hi = q.hi ?? Swift.max(a, b)
        if lo >= hi {
            switch (q.lo, q.hi) {
            case (nil, nil): lo -= 0.5; hi += 0.5   // every value is the same
            case (nil, _): lo = hi - 1
            default: hi = lo + 1
            }
        }
        let h = Histogram(summary.sketch, lo: lo, hi: hi, bins: q.bins, shift: shift, scale: scale,
                          within: (summary.total.min, summary.total.max))
        return .object([
            ("stream", .string(state.name)),
            ("scope", .string(q.scope.rawValue)),
            ("normalized", .bool(normalized)),
            ("edges", .nums(h.edges)),
            ("counts", .nums(h.counts)),
            ("below", .num(h.below)),
            ("above", .num(h.above)),
            ("total", .int(summary.total.count)),
            ("nonfinite", .int(summary.nonfiniteCount)),
            ("range", .num(state.config.clipSampleRange)),
        ])
    }
}
