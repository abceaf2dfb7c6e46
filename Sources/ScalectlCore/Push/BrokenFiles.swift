import Foundation

/// The files whose samples the daemon reported in a push answer's `outliers`:
/// holding NaN, holding ±inf, or outliers by their mean or std. `scalectl
/// push` names them so the broken images of a latent cache can be re-encoded.
public struct BrokenFiles: Sendable, Equatable {
    /// Files in the order first reported.
    public private(set) var nan: [String] = []
    public private(set) var inf: [String] = []
    public private(set) var outliers: [String] = []
    /// Outlier samples the answers counted but did not list (over 32 in one push).
    public private(set) var unlisted = 0

    public init() {}

    /// Accounts for one push answer to `batch`.
    public mutating func add(answer: JSONValue, batch: PushBatcher.Batch) {
        let listed = answer["outliers"]?.array ?? []
        unlisted += max(0, (answer["outliers_total"]?.int ?? listed.count) - listed.count)
        for o in listed {
            guard let index = o["index"]?.int, let file = batch.file(ofSample: index) ?? (batch.files.count == 1 ? batch.files[0] : nil) else { continue }
            if (o["nan"]?.int ?? 0) > 0 { Self.note(file, in: &nan) }
            if (o["inf"]?.int ?? 0) > 0 { Self.note(file, in: &inf) }
            let reasons = (o["reasons"]?.array ?? []).compactMap(\.string)
            if reasons.contains(where: { $0 != "nonfinite" }) || (reasons.isEmpty && o["nonfinite"]?.bool != true) {
                Self.note(file, in: &outliers)
            }
        }
    }

    static func note(_ file: String, in list: inout [String]) {
        if !list.contains(file) { list.append(file) }
    }

    public var isEmpty: Bool { nan.isEmpty && inf.isEmpty && outliers.isEmpty && unlisted == 0 }

    /// `NaN in 3 files: a.npz b.npz c.npz`, one line per kind, at most `limit` names each.
    public func lines(limit: Int) -> [String] {
        var out: [String] = []
        func line(_ what: String, _ files: [String]) {
            guard !files.isEmpty else { return }
            let shown = files.prefix(limit).joined(separator: " ")
            let more = files.count > limit ? " … and \(files.count - limit) more (all with --json)" : ""
            out.append("\(what) in \(files.count) file\(files.count == 1 ? "" : "s"): \(shown)\(more)")
        }
        line("NaN", nan)
        line("inf", inf)
        line("outliers", outliers)
        if unlisted > 0 { out.append("\(unlisted) more outlier samples were counted but not listed (at most 32 per request; push with a smaller --batch-bytes to see them all)") }
        return out
    }

    /// The `--json` summary: every file of each kind.
    public var json: JSONValue {
        .object([("broken_files", .object([
            ("nan", .array(nan.map { .string($0) })),
            ("inf", .array(inf.map { .string($0) })),
            ("outliers", .array(outliers.map { .string($0) })),
            ("unlisted_samples", JSONValue(unlisted)),
        ]))])
    }
}
