import Foundation

extension StatusReport {
    /// The buckets table of `status STREAM`: one row per tag, with its own
    /// scaling factor and its normalized std under the stream's reference.
    static func bucketLines(_ s: JSONValue, style: Style) -> [String] {
        var out: [String] = []
        if let o = s["outliers"], let total = o["total"]?.int {
            let window = o["window"]?.int ?? 0, checked = o["window_samples"]?.int ?? 0
            let text = "\(total) in all, \(window) of \(checked) samples in the window (\(Fmt.percent(o["window_fraction"]?.double)), limit \(Fmt.percent(o["max_fraction"]?.double)))"
            out.append("  outliers   " + (window > 0 ? style.red(text) : text))
        }
        guard let buckets = s["buckets"]?.object, !buckets.isEmpty else { return out }
        var t = Table([("bucket", .left), ("samples", .right), ("mean", .right), ("std", .right),
                       ("scaling_factor", .right), ("95% CI", .right), ("norm. std", .right),
                       ("clamp", .right), ("nonfinite", .right), ("outliers", .right), ("", .left)])
        for (name, b) in buckets {
            let ci = b["scaling_factor_ci95"]?.doubles ?? []
            let mismatch = b["mismatch"]?.bool == true
            t.add([name, Fmt.count(b["samples"]?.int), Fmt.sig(b["mean"]?.double), Fmt.sig(b["std"]?.double),
                   Fmt.sig(b["scaling_factor"]?.double), ci.count == 2 ? "\(Fmt.sig(ci[0], 4))–\(Fmt.sig(ci[1], 4))" : "-",
                   Fmt.sig(b["normalized_std"]?.double, 4), b["clamp_fraction"]?.double.map { Fmt.percent($0) } ?? "-",
                   Fmt.count(b["nonfinite"]?.int), Fmt.count(b["outliers"]?.int),
                   mismatch ? style.red("mismatch") : ""])
        }
        let info = s["bucket_info"]
        var title = "  buckets (cumulative, \(info?["count"]?.int ?? buckets.count) of max_buckets \(info?["max_buckets"]?.int ?? 0)"
        if info?["overflowed"]?.bool == true { title += "; further tags are counted in (other)" }
        out.append("")
        out.append(title + ")")
        out += t.render().map { "    " + $0 }
        return out
    }
}
