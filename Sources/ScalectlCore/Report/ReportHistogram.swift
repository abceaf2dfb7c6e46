import Foundation

/// The histogram of the window's normalized values that the report draws.
///
/// It comes from `GET …/histogram?scope=window&normalized=true` where the
/// daemon serves it (`{edges, counts, below, above}`, counts exact per sketch
/// bucket). A daemon without that endpoint answers 404; then the histogram
/// is estimated from the status alone (``fromStatus(_:bins:)``). The page
/// says which one it drew.
public struct ReportHistogram: Sendable, Equatable {
    /// Where the bins came from.
    public enum Source: String, Sendable {
        /// `GET …/histogram`.
        case endpoint
        /// The status' window quantiles, interpolated in normal-score space.
        case quantiles
        /// A normal curve with the window's normalized mean and std.
        case normal
    }

    /// Bin edges, ascending; `counts.count == edges.count - 1`.
    public var edges: [Double]
    /// Values per bin (estimates, not integers, unless `source == .endpoint`).
    public var counts: [Double]
    /// Values below `edges.first` and above `edges.last`.
    public var below: Double
    public var above: Double
    public var source: Source

    public init(edges: [Double], counts: [Double], below: Double = 0, above: Double = 0, source: Source) {
        self.edges = edges
        self.counts = counts
        self.below = below
        self.above = above
        self.source = source
    }

    /// All values the histogram stands for.
    public var total: Double { counts.reduce(0, +) + below + above }

    /// Bar heights as a density: share of all values per unit of x, so that
    /// bins of any width compare.
    public var densities: [Double] {
        let n = total
        guard n > 0 else { return counts.map { _ in 0 } }
        return counts.indices.map { i in
            let w = edges[i + 1] - edges[i]
            return w > 0 ? counts[i] / n / w : 0
        }
    }

    /// Estimated share of values outside `-range...range`, counting bins
    /// that straddle a limit in proportion to the part outside.
    public func shareOutside(_ range: Double) -> Double {
        let n = total
        guard n > 0 else { return 0 }
        var outside = below + above
        for i in counts.indices {
            let a = edges[i], b = edges[i + 1], w = b - a
            guard w > 0 else { continue }
            let inside = Swift.max(0, Swift.min(b, range) - Swift.max(a, -range))
            outside += counts[i] * (1 - inside / w)
        }
        return outside / n
    }

    /// Parses the endpoint's answer; nil when it is not the documented shape.
    public static func fromEndpoint(_ json: JSONValue) -> ReportHistogram? {
        guard let edges = json["edges"]?.doubles, let counts = json["counts"]?.doubles,
              edges.count == counts.count + 1, !counts.isEmpty else { return nil }
        return ReportHistogram(edges: edges, counts: counts, below: json["below"]?.double ?? 0,
                               above: json["above"]?.double ?? 0, source: .endpoint)
    }

    /// The normalization the histogram's x axis is in: the reference in use
    /// (scalar: `(z - shift) * factor`), or the current estimate when there
    /// is no reference yet. Nil for a per-channel reference, which a single
    /// quantile list cannot be mapped through.
    public static func scalarNormalization(_ status: JSONValue) -> (factor: Double, shift: Double, what: String)? {
        let ref = status["reference"]
        if let ref, !ref.isNull {
            guard ref["latents_mean"]?.array == nil || ref["latents_mean"]?.isNull == true,
                  let f = ref["scaling_factor"]?.double else { return nil }
            return (f, ref["shift_factor"]?.double ?? 0, "the reference in use")
        }
        guard let e = status["estimate"], let f = e["scaling_factor"]?.double else { return nil }
        return (f, e["shift_factor"]?.double ?? 0, "the current estimate (no reference yet)")
    }

    /// An estimate from the status alone, for a daemon without the
    /// histogram endpoint.
    ///
    /// With a scalar reference, the window's min, 0.1%, 1%, 50%, 99%, 99.9%
    /// quantiles and max are normalized and the CDF between them is
    /// interpolated linearly in normal-score space (x against Φ⁻¹(p)): exact
    /// at those seven points and exactly normal for normal data, an
    /// approximation in between. With a per-channel reference the raw
    /// quantiles cannot be normalized, and a normal curve with the window's
    /// normalized mean and std is drawn instead.
    public static func fromStatus(_ status: JSONValue, bins: Int = 60) -> ReportHistogram? {
        let window = status["window"]
        let n = Double(window?["elements"]?.int ?? 0)
        guard n > 0 else { return nil }
        if let normalization = scalarNormalization(status),
           let q = window?["quantiles"], let lo = window?["min"]?.double, let hi = window?["max"]?.double {
            var points: [(p: Double, x: Double)] = [(0.5 / n, lo)]
            for (key, p) in [("0.001", 0.001), ("0.01", 0.01), ("0.5", 0.5), ("0.99", 0.99), ("0.999", 0.999)] {
                if let v = q[key]?.double, v.isFinite, p > 0.5 / n, p < 1 - 0.5 / n { points.append((p, v)) }
            }
            points.append((1 - 0.5 / n, hi))
            let normalized = points.map { (p: $0.p, x: ($0.x - normalization.shift) * normalization.factor) }.sorted { $0.p < $1.p }
            var knots: [(z: Double, x: Double)] = []
            for pt in normalized where knots.last.map({ pt.x > $0.x }) ?? true {
                knots.append((NormalDistribution.quantile(pt.p), pt.x))
            }
            guard knots.count >= 2, let first = knots.first, let last = knots.last, last.x > first.x else { return nil }
            func cdf(_ x: Double) -> Double {
                if x <= first.x { return NormalDistribution.cdf(first.z) }
                if x >= last.x { return NormalDistribution.cdf(last.z) }
                let i = knots.lastIndex { $0.x <= x }!
                let a = knots[i], b = knots[i + 1]
                return NormalDistribution.cdf(a.z + (x - a.x) / (b.x - a.x) * (b.z - a.z))
            }
            var edges = (0...bins).map { first.x + (last.x - first.x) * Double($0) / Double(bins) }
            edges[bins] = last.x
            let counts = (0..<bins).map { n * (cdf(edges[$0 + 1]) - cdf(edges[$0])) }
            return ReportHistogram(edges: edges, counts: counts, below: n * cdf(first.x),
                                   above: n * (1 - cdf(last.x)), source: .quantiles)
        }
        guard let mean = status["drift"]?["normalized_mean"]?.double, let sd = status["drift"]?["normalized_std"]?.double,
              sd > 0, sd.isFinite else { return nil }
        let lo = mean - 5 * sd, hi = mean + 5 * sd
        let edges = (0...bins).map { lo + (hi - lo) * Double($0) / Double(bins) }
        let counts = (0..<bins).map { n * (NormalDistribution.cdf((edges[$0 + 1] - mean) / sd) - NormalDistribution.cdf((edges[$0] - mean) / sd)) }
        return ReportHistogram(edges: edges, counts: counts, below: n * NormalDistribution.cdf(-5),
                               above: n * NormalDistribution.cdf(-5), source: .normal)
    }

    /// The one place that picks the source: the endpoint when the daemon
    /// serves it, the status otherwise (404: an older daemon; any other
    /// refusal is not worth failing the whole report over either).
    static func load(_ client: DaemonClient, stream: String, status: JSONValue) async throws(CLIError) -> ReportHistogram? {
        let response = try await client.send(.GET, streamPath(stream, "/histogram"),
                                             query: [("scope", "window"), ("normalized", "true"), ("bins", "60")])
        if (200..<300).contains(response.status), let json = try? response.json(), let h = fromEndpoint(json) {
            return h
        }
        return fromStatus(status)
    }
}

/// The standard normal distribution.
public enum NormalDistribution {
    /// Φ(z).
    public static func cdf(_ z: Double) -> Double { 0.5 * Foundation.erfc(-z / 2.0.squareRoot()) }

    /// Φ⁻¹(p) for p in (0, 1) (Acklam's rational approximation, relative
    /// error < 1.2e-9, refined by one Halley step).
    public static func quantile(_ p: Double) -> Double {
        guard p > 0 else { return -.infinity }
        guard p < 1 else { return .infinity }
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let low = 0.02425
        var x: Double
        if p < low {
            let q = (-2 * Foundation.log(p)).squareRoot()
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        } else if p <= 1 - low {
            let q = p - 0.5, r = q * q
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        } else {
            let q = (-2 * Foundation.log(1 - p)).squareRoot()
            x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        let e = cdf(x) - p
        let u = e * (2 * Double.pi).squareRoot() * Foundation.exp(x * x / 2)
        x -= u / (1 + x * u / 2)
        return x
    }
}
