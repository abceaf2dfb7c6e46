import Foundation

/// The readable report of one stream (`status STREAM`).
public enum StatusReport {
    public static func render(_ s: JSONValue, style: Style, now: Date = Date()) -> [String] {
        var out: [String] = []
        let name = s["name"]?.string ?? "?"
        let totals = s["totals"]
        let nf = totals?["nonfinite"]
        let nonfinite = ["nan", "posinf", "neginf"].compactMap { nf?[$0]?.int }
        let nonfiniteTotal = nonfinite.reduce(0, +)
        out.append(style.bold("stream \(name)")
            + "  last push " + (s["last_push_at"]?.string.map { Fmt.age($0, now: now) + " ago" } ?? "never")
            + (s["created_at"]?.string.map { ", created \($0)" } ?? ""))
        var totalsLine = "  totals     \(totals?["batches"]?.int ?? 0) batches, \(totals?["samples"]?.int ?? 0) samples, "
            + "\(Fmt.count(totals?["elements"]?.int)) elements, non-finite "
        totalsLine += nonfiniteTotal > 0
            ? style.red("\(nonfiniteTotal) (nan \(nonfinite[0]), +inf \(nonfinite[1]), -inf \(nonfinite[2]))")
            : "0"
        out.append(totalsLine)

        // Moments side by side: cumulative and window.
        let cumulative = s["cumulative"], window = s["window"]
        var table = Table([("", .left), ("cumulative", .right), ("window", .right)])
        table.add(["batches", Fmt.count(cumulative?["batches"]?.int), Fmt.count(window?["batches"]?.int)])
        for key in ["mean", "std", "rms", "min", "max", "skewness", "kurtosis"] {
            table.add([key, Fmt.sig(cumulative?[key]?.double, 6), Fmt.sig(window?[key]?.double, 6)])
        }
        for q in ["0.001", "0.01", "0.5", "0.99", "0.999"] {
            table.add(["q" + q, Fmt.sig(cumulative?["quantiles"]?[q]?.double, 5), Fmt.sig(window?["quantiles"]?[q]?.double, 5)])
        }
        out.append("")
        out += table.render().map { "  " + $0 }

        out.append("")
        out.append(estimateLine(s["estimate"], style: style))
        out.append(referenceLine(s["reference"]))
        out.append(driftLine(s["drift"], config: s["config"], style: style))
        out.append(clampLine(s["clamp"], config: s["config"], style: style))

        if let channels = cumulative?["channels"]?.array, !channels.isEmpty {
            var ct = Table([("channel", .right), ("mean", .right), ("std", .right), ("min", .right), ("max", .right)])
            for (i, c) in channels.enumerated() {
                ct.add([String(i), Fmt.sig(c["mean"]?.double), Fmt.sig(c["std"]?.double),
                        Fmt.sig(c["min"]?.double), Fmt.sig(c["max"]?.double)])
            }
            out.append("")
            out.append("  channels (cumulative)")
            out += ct.render().map { "    " + $0 }
        }

        out += bucketLines(s, style: style)

        let flags = s["flags"]?.array ?? []
        out.append("")
        if flags.isEmpty {
            out.append("  flags      " + style.green("none"))
        } else {
            out.append("  flags")
            for flag in StreamSummary.flags(s["flags"]).enumerated() {
                let raw = flags[flag.offset]
                let since = raw["since"]?.string.map { " for " + Fmt.age($0, now: now) } ?? ""
                out.append("    \(style.flag(flag.element)) \(flag.element.state)\(since): \(flag.element.message ?? "")")
            }
        }
        out.append(configLine(s["config"]))
        return out
    }

    static func estimateLine(_ e: JSONValue?, style: Style) -> String {
        "  estimate   " + (e.flatMap { estimateSummary($0, style: style) } ?? "none yet (no data)")
    }

    /// `scaling_factor 0.18215 (95% CI …), shift_factor …, converged`, or nil without data.
    static func estimateSummary(_ e: JSONValue, style: Style) -> String? {
        guard e["scaling_factor"]?.double != nil else { return nil }
        var line = "scaling_factor \(Fmt.sig(e["scaling_factor"]?.double, 6))"
        if let ci = e["scaling_factor_ci95"]?.doubles, ci.count == 2, !perChannel(e) {
            line += " (95% CI \(Fmt.sig(ci[0], 5))–\(Fmt.sig(ci[1], 5)))"
        }
        if let shift = e["shift_factor"]?.double { line += ", shift_factor \(Fmt.sig(shift, 6))" }
        if let mean = e["latents_mean"]?.doubles { line += ", latents_mean [\(Fmt.list(mean))]" }
        if let std = e["latents_std"]?.doubles { line += ", latents_std [\(Fmt.list(std))]" }
        line += e["converged"]?.bool == true ? ", " + style.green("converged") : ", " + style.yellow("not converged yet")
        return line
    }

    /// In channel and whiten modes `scaling_factor` is the target std and
    /// the interval belongs to the overall scale, so it is not shown beside it.
    static func perChannel(_ n: JSONValue) -> Bool {
        n["mode"]?.string == "channel" || n["mode"]?.string == "whiten"
    }

    static func referenceLine(_ r: JSONValue?) -> String {
        guard let r, !r.isNull else { return "  reference  none (the estimate is frozen when the window first fills)" }
        var parts = ["\(r["source"]?.string ?? "?")"]
        if let v = r["scaling_factor"]?.double { parts.append("scaling_factor \(Fmt.sig(v, 6))") }
        if let v = r["shift_factor"]?.double { parts.append("shift_factor \(Fmt.sig(v, 6))") }
        if let v = r["latents_mean"]?.doubles { parts.append("latents_mean [\(Fmt.list(v))]") }
        if let v = r["latents_std"]?.doubles { parts.append("latents_std [\(Fmt.list(v))]") }
        if let at = r["frozen_at"]?.string { parts.append("frozen at \(at)") }
        return "  reference  " + parts.joined(separator: ", ")
    }

    static func state(_ s: String?, style: Style) -> String {
        switch s {
        case "firing": return style.red("firing")
        case "pending": return style.yellow("pending")
        case "ok": return style.green("ok")
        default: return s ?? "-"
        }
    }

    static func driftLine(_ d: JSONValue?, config: JSONValue?, style: Style) -> String {
        guard let d, d["normalized_std"]?.double != nil else { return "  drift      - (no reference yet)" }
        let target = config?["target_std"]?.double
        let tol = config?["drift_tolerance"]?.double
        var line = "  drift      normalized std \(Fmt.sig(d["normalized_std"]?.double, 5))"
        if let target { line += " (target \(Fmt.sig(target, 4))" + (tol.map { " ±\(Fmt.percent($0))" } ?? "") + ")" }
        if let m = d["normalized_mean"]?.double { line += ", normalized mean \(Fmt.sig(m, 4))" }
        return line + ": " + state(d["state"]?.string, style: style)
    }

    static func clampLine(_ c: JSONValue?, config: JSONValue?, style: Style) -> String {
        guard let c else { return "  clamp      -" }
        let range = Fmt.sig(c["range"]?.double, 4)
        guard c["enabled"]?.bool != false else {
            guard let share = c["fraction_window"]?.double else { return "  clamp      clip_sample off" }
            return "  clamp      clip_sample off (±\(range) would clip \(Fmt.percent(share)) of the window)"
        }
        let limit = config?["clamp_max_fraction"]?.double
        let window = c["fraction_window"]?.double
        var share = Fmt.percent(window)
        if let window, let limit, window > limit { share = style.red(share) }
        var line = "  clamp      clip_sample on, ±\(range) clips \(share) of the window, \(Fmt.percent(c["fraction_cumulative"]?.double)) overall"
        if let limit { line += " (limit \(Fmt.percent(limit)))" }
        if let rec = c["recommended_range"]?.double { line += "; ±\(Fmt.sig(rec, 3)) would stay under it" }
        return line
    }

    static func configLine(_ c: JSONValue?) -> String {
        guard let c else { return "" }
        var parts: [String] = []
        if let v = c["channel_axis"]?.int { parts.append("channel_axis \(v)") }
        if let v = c["target_std"]?.double { parts.append("target_std \(Fmt.sig(v))") }
        if let v = c["window_batches"]?.int { parts.append("window \(v) batches") }
        if let v = c["drift_tolerance"]?.double { parts.append("drift_tolerance \(Fmt.sig(v))") }
        if let v = c["clamp_max_fraction"]?.double { parts.append("clamp_max_fraction \(Fmt.sig(v))") }
        if let v = c["alert_for_batches"]?.int { parts.append("alert after \(v) batches") }
        if let v = c["max_buckets"]?.int { parts.append("max_buckets \(v)") }
        if let v = c["outlier_z"]?.double { parts.append("outlier_z \(Fmt.sig(v))") }
        if let v = c["sample_mean_abs_max"]?.double { parts.append("sample_mean_abs_max \(Fmt.sig(v))") }
        if let v = c["sample_std_max"]?.double { parts.append("sample_std_max \(Fmt.sig(v))") }
        if let v = c["outlier_max_fraction"]?.double { parts.append("outlier_max_fraction \(Fmt.sig(v))") }
        if c["exclude_nonfinite_samples"]?.bool == true { parts.append("non-finite samples excluded") }
        return "  config     " + parts.joined(separator: ", ")
    }
}
