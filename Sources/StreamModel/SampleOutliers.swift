import Foundation
import LatentStats

/// One sample of a push reported as an outlier.
public struct SampleOutlier: Sendable, Equatable {
    /// Why a sample is reported.
    public enum Reason: String, Sendable, CaseIterable {
        /// It holds NaN or ±inf.
        case nonfinite
        /// Its mean's robust z-score exceeds `outlier_z`.
        case meanZ = "mean_z"
        /// Its std's robust z-score exceeds `outlier_z`.
        case stdZ = "std_z"
        /// |mean| exceeds `sample_mean_abs_max`.
        case meanAbsMax = "mean_abs_max"
        /// std exceeds `sample_std_max`.
        case stdMax = "std_max"
    }

    /// The sample's index in the pushed batch (axis 0).
    public var index: Int
    public var stat: SampleStat
    /// The larger of the robust z-scores of its mean and std (nil when not computed).
    public var z: Double?
    public var reasons: [Reason]
}

/// Robust location and scale of one per-sample statistic: median and
/// 1.4826 × MAD (the normal-consistent median absolute deviation).
public struct RobustScale: Sendable, Equatable {
    public var median: Double
    public var sigma: Double

    /// Fewer values than this give no z-scores: the MAD of a handful is too noisy.
    public static let minimumValues = 16

    public init?(_ values: [Double]) {
        guard values.count >= Self.minimumValues else { return nil }
        let m = Self.median(values)
        let mad = Self.median(values.map { Swift.abs($0 - m) })
        guard mad > 0, mad.isFinite else { return nil }
        median = m
        sigma = 1.482602218505602 * mad
    }

    /// The same scale from values sorted ascending, none NaN, in a pass over
    /// half of them instead of two selections: the median is read off, and
    /// the MAD is the middle of the deviations, which fall on either side of
    /// the median in two runs that each grow outwards, so it is found by
    /// merging the two runs up to the middle. The deviations are computed as
    /// ``init(_:)`` computes them, so the result is identical.
    public init?(sorted values: [Double]) {
        let n = values.count
        guard n >= Self.minimumValues else { return nil }
        let m = n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2
        guard m.isFinite else {
            // Deviations from an infinite median are NaN: rank them as init(_:) does.
            guard let s = RobustScale(values) else { return nil }
            self = s
            return
        }
        let mad = values.withUnsafeBufferPointer { v -> Double in
            // Left run: indices split-1 down to 0; right run: split up to n-1.
            var right = v.firstIndex { $0 >= m } ?? n
            var left = right - 1
            func next() -> Double {
                let l = left >= 0 ? Swift.abs(v[left] - m) : .infinity
                let r = right < n ? Swift.abs(v[right] - m) : .infinity
                if l <= r { left -= 1; return l } else { right += 1; return r }
            }
            for _ in 0..<((n - 1) / 2) { _ = next() }
            let lower = next()
            return n % 2 == 1 ? lower : (lower + next()) / 2
        }
        guard mad > 0, mad.isFinite else { return nil }
        median = m
        sigma = 1.482602218505602 * mad
    }

    /// |x − median| / sigma.
    public func z(_ x: Double) -> Double { Swift.abs(x - median) / sigma }

    /// The median, by selection rather than a full sort: the window's few
    /// thousand per-sample values are ranked four times a push, and sorting
    /// them was the largest cost of a push outside the statistics kernel.
    /// Order statistics do not depend on how they are found, so the value is
    /// the one a sort gives.
    static func median(_ values: [Double]) -> Double {
        let n = values.count
        // NaN has no rank; keep what a sort makes of it.
        guard n > 2, !values.contains(where: \.isNaN) else {
            let s = values.sorted()
            return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
        }
        var v = values
        return v.withUnsafeMutableBufferPointer { b in
            let upper = select(b, n / 2)
            guard n % 2 == 0 else { return upper }
            // The lower middle is the largest value left of the upper one.
            var lower = b[0]
            for i in 1..<(n / 2) where b[i] > lower { lower = b[i] }
            return (lower + upper) / 2
        }
    }

    /// Rearranges `b` so that `b[k]` is the value a sort puts there, every
    /// value before it no greater and every value after it no smaller, and
    /// returns it. Quickselect with a median-of-three pivot; past a depth
    /// where the input looks adversarial it sorts the rest.
    static func select(_ b: UnsafeMutableBufferPointer<Double>, _ k: Int) -> Double {
        var lo = 0, hi = b.count - 1
        var depth = 2 * (Int.bitWidth - b.count.leadingZeroBitCount)
        while hi - lo > 16 {
            if depth == 0 {
                var rest = UnsafeMutableBufferPointer(rebasing: b[lo...hi]); rest.sort()
                return b[k]
            }
            depth -= 1
            let mid = lo + (hi - lo) / 2
            if b[mid] < b[lo] { b.swapAt(mid, lo) }
            if b[hi] < b[lo] { b.swapAt(hi, lo) }
            if b[hi] < b[mid] { b.swapAt(hi, mid) }
            let pivot = b[mid]
            var i = lo, j = hi
            while i <= j {
                while b[i] < pivot { i += 1 }
                while b[j] > pivot { j -= 1 }
                if i <= j { b.swapAt(i, j); i += 1; j -= 1 }
            }
            // [lo, j] ≤ pivot ≤ [i, hi], and anything between equals the pivot.
            if k <= j { hi = j } else if k >= i { lo = i } else { return b[k] }
        }
        var rest = UnsafeMutableBufferPointer(rebasing: b[lo...hi]); rest.sort()
        return b[k]
    }
}

/// The per-sample values of the window's batches, for the robust z-scores,
/// and each batch's outlier count, for the `sample_outlier` share.
public struct SampleWindow: Sendable, Equatable {
    /// One window batch: its samples' finite means and stds, and how many were outliers.
    public struct Batch: Sendable, Equatable {
        public var means: [Double]
        public var stds: [Double]
        /// Samples checked (excluded ones included).
        public var samples: Int
        public var outliers: Int

        public init(means: [Double], stds: [Double], samples: Int, outliers: Int) {
            self.means = means; self.stds = stds; self.samples = samples; self.outliers = outliers
        }

        /// The batch's record from its samples and the outliers found among them.
        public init(_ stats: [SampleStat], outliers: Int) {
            var means: [Double] = [], stds: [Double] = []
            for s in stats where s.nonfinite == 0 {
                if let m = s.mean, let d = s.std { means.append(m); stds.append(d) }
            }
            self.init(means: means, stds: stds, samples: stats.count, outliers: outliers)
        }
    }

    public private(set) var batches: [Batch] = []

    /// The kept means, sorted ascending, NaN left out: the multiset
    /// ``values(last:)`` holds for all batches, kept in step by every change
    /// (a merge for the values added, one for those dropped), so that a
    /// push's robust scale needs no selection over the window.
    public private(set) var sortedMeans: [Double] = []
    /// The kept stds, as ``sortedMeans``.
    public private(set) var sortedStds: [Double] = []
    /// Kept values that are NaN (left out of the sorted ones), means and stds together.
    private var nanValues = 0

    /// Per-sample values kept for the robust scale: those of the newest
    /// batches that fit in this many (the newest batch's always), so memory
    /// and the cost of a push stay bounded for long windows. Older batches
    /// keep only their counts.
    public static let valueCap = 4096

    public init() {}

    /// What ``append(_:keep:)`` removed or cleared: enough to put the window
    /// back with ``undo(_:)`` without having copied it.
    public struct Undo: Sendable {
        var removed: [Batch]
        /// Batches whose values were cleared, by index after the append.
        var cleared: [(index: Int, means: [Double], stds: [Double])]
    }

    @discardableResult
    public mutating func append(_ b: Batch, keep: Int) -> Undo {
        batches.append(b)
        var removed: [Batch] = []
        if batches.count > keep {
            removed = Array(batches.prefix(batches.count - keep))
            batches.removeFirst(batches.count - keep)
        }
        let cleared = trimValues()
        updateSorted(adding: b.means, b.stds,
                     dropping: removed.flatMap(\.means) + cleared.flatMap(\.means), removed.flatMap(\.stds) + cleared.flatMap(\.stds))
        return Undo(removed: removed, cleared: cleared)
    }

    /// Takes back the last ``append(_:keep:)``, which returned `u`.
    public mutating func undo(_ u: Undo) {
        for c in u.cleared { batches[c.index].means = c.means; batches[c.index].stds = c.stds }
        let last = batches.removeLast()
        batches.insert(contentsOf: u.removed, at: 0)
        updateSorted(adding: u.removed.flatMap(\.means) + u.cleared.flatMap(\.means), u.removed.flatMap(\.stds) + u.cleared.flatMap(\.stds),
                     dropping: last.means, last.stds)
    }

    /// Replaces the content (restart), keeping the newest `keep`.
    public mutating func restore(_ b: [Batch], keep: Int) {
        batches = Array(b.suffix(keep))
        trimValues()
        let (means, stds) = values(last: batches.count)
        nanValues = 0
        sortedMeans = []; sortedStds = []
        updateSorted(adding: means, stds, dropping: [], [])
    }

    /// The values the robust scale of a push is taken over: the sorted ones
    /// when they are the window's newest `last` batches' and none is NaN,
    /// else ``values(last:)`` (then the caller ranks them).
    public func referenceValues(last: Int) -> (means: [Double], stds: [Double], sorted: Bool) {
        if let v = sortedValues(last: last) { return (v.means, v.stds, true) }
        let v = values(last: last)
        return (v.means, v.stds, false)
    }

    /// The sorted values, when they are the window's newest `last` batches'
    /// and none is NaN (else the caller ranks ``values(last:)`` itself).
    public func sortedValues(last: Int) -> (means: [Double], stds: [Double])? {
        guard last >= batches.count, nanValues == 0 else { return nil }
        return (sortedMeans, sortedStds)
    }

    private mutating func updateSorted(adding addMeans: [Double], _ addStds: [Double], dropping dropMeans: [Double], _ dropStds: [Double]) {
        func nans(_ v: [Double]) -> Int { v.reduce(0) { $0 + ($1.isNaN ? 1 : 0) } }
        nanValues += nans(addMeans) + nans(addStds) - nans(dropMeans) - nans(dropStds)
        sortedMeans = Self.merged(sortedMeans, adding: addMeans, dropping: dropMeans)
        sortedStds = Self.merged(sortedStds, adding: addStds, dropping: dropStds)
    }

    /// `sorted` with the values of `add` put in, then one occurrence of each
    /// value of `drop` taken out (NaN neither): a merge and a pass.
    static func merged(_ sorted: [Double], adding add: [Double], dropping drop: [Double]) -> [Double] {
        var out = sorted
        if !add.isEmpty {
            let a = add.filter { !$0.isNaN }.sorted()
            out = []
            out.reserveCapacity(sorted.count + a.count)
            var i = 0
            for x in sorted {
                while i < a.count && a[i] < x { out.append(a[i]); i += 1 }
                out.append(x)
            }
            out.append(contentsOf: a[i...])
        }
        if !drop.isEmpty {
            let d = drop.filter { !$0.isNaN }.sorted()
            var kept: [Double] = []
            kept.reserveCapacity(out.count)
            var j = 0
            for x in out {
                while j < d.count && d[j] < x { j += 1 }   // not held: nothing to take out
                if j < d.count && d[j] == x { j += 1; continue }
                kept.append(x)
            }
            out = kept
        }
        return out
    }

    /// Clears the values of every batch older than those that fit in ``valueCap``.
    /// - Returns: the batches it cleared, with their values.
    @discardableResult
    mutating func trimValues() -> [(index: Int, means: [Double], stds: [Double])] {
        var total = 0
        var i = batches.count - 1
        while i >= 0 {
            total += batches[i].means.count
            if total > Self.valueCap && i < batches.count - 1 { break }
            i -= 1
        }
        var cleared: [(index: Int, means: [Double], stds: [Double])] = []
        while i >= 0 {
            if !batches[i].means.isEmpty || !batches[i].stds.isEmpty {
                cleared.append((i, batches[i].means, batches[i].stds))
                batches[i].means = []; batches[i].stds = []
            }
            i -= 1
        }
        return cleared
    }

    /// The share of outlier samples over the newest `last` batches; nil when none was checked.
    public func outlierFraction(last: Int) -> Double? {
        let recent = batches.suffix(last)
        let n = recent.reduce(0) { $0 + $1.samples }
        guard n > 0 else { return nil }
        return Double(recent.reduce(0) { $0 + $1.outliers }) / Double(n)
    }

    /// The per-sample means and stds kept for the newest `last` batches.
    public func values(last: Int) -> (means: [Double], stds: [Double]) {
        var means: [Double] = [], stds: [Double] = []
        for b in batches.suffix(last) where !b.means.isEmpty { means += b.means; stds += b.stds }
        return (means, stds)
    }

    /// Outlier samples and samples checked over the newest `last` batches.
    public func counts(last: Int) -> (outliers: Int, samples: Int) {
        let recent = batches.suffix(last)
        return (recent.reduce(0) { $0 + $1.outliers }, recent.reduce(0) { $0 + $1.samples })
    }
}

public enum SampleOutliers {
    /// The samples of `stats` that are outliers, in index order.
    ///
    /// The robust z-scores compare each sample's mean and std with the median
    /// and MAD of the window's per-sample values (the newest
    /// ``SampleWindow/valueCap`` of them) together with this batch's
    /// (`window`), so a first batch is judged against itself and one broken
    /// batch cannot hide its own samples. A sample with non-finite values is
    /// always reported.
    public static func find(_ stats: [SampleStat], window: SampleWindow, config: StreamConfig) -> [SampleOutlier] {
        let v = window.referenceValues(last: config.windowBatches)
        return find(stats, windowMeans: v.means, windowStds: v.stds, sorted: v.sorted, config: config)
    }

    /// ``find(_:window:config:)`` given the window's values (as
    /// ``SampleWindow/values(last:)`` returns them), so that the sorting can
    /// run off the stream's serial step.
    ///
    /// `sorted`: the window's values are ``SampleWindow/sortedValues(last:)``
    /// (ascending, no NaN); the batch's are merged in and the scale read off
    /// without a selection. The outliers are the same either way.
    public static func find(_ stats: [SampleStat], windowMeans: [Double], windowStds: [Double], sorted: Bool = false,
                            config: StreamConfig) -> [SampleOutlier] {
        let current = SampleWindow.Batch(stats, outliers: 0)
        let meanScale: RobustScale?, stdScale: RobustScale?
        if sorted && !current.means.contains(where: \.isNaN) && !current.stds.contains(where: \.isNaN) {
            meanScale = RobustScale(sorted: SampleWindow.merged(windowMeans, adding: current.means, dropping: []))
            stdScale = RobustScale(sorted: SampleWindow.merged(windowStds, adding: current.stds, dropping: []))
        } else {
            meanScale = RobustScale(windowMeans + current.means)
            stdScale = RobustScale(windowStds + current.stds)
        }
        var out: [SampleOutlier] = []
        for (i, s) in stats.enumerated() {
            var reasons: [SampleOutlier.Reason] = []
            if s.nonfinite > 0 { reasons.append(.nonfinite) }
            var z: Double?
            if let m = s.mean, let d = s.std {
                let zm = meanScale?.z(m), zs = stdScale?.z(d)
                if let zm, zm > config.outlierZ { reasons.append(.meanZ) }
                if let zs, zs > config.outlierZ { reasons.append(.stdZ) }
                if zm != nil || zs != nil { z = Swift.max(zm ?? 0, zs ?? 0) }
                if let limit = config.sampleMeanAbsMax, Swift.abs(m) > limit { reasons.append(.meanAbsMax) }
                if let limit = config.sampleStdMax, d > limit { reasons.append(.stdMax) }
            }
            if !reasons.isEmpty { out.append(SampleOutlier(index: i, stat: s, z: z, reasons: reasons)) }
        }
        return out
    }
}

/// What applying one push found beyond its summary.
public struct PushFindings: Sendable {
    /// Every outlier sample of the push, in index order.
    public var outliers: [SampleOutlier]
    /// The bucket the push counted in (nil when untagged).
    public var bucket: String?
}

extension StreamState {
    /// Applies one push with its tag and per-sample statistics: the outlier
    /// check (against the window before this batch), then ``apply(_:seq:now:)``,
    /// the bucket and the sample window.
    @discardableResult
    public mutating func apply(_ entry: WindowEntry, tag: String?, samples: [SampleStat], seq: Int64, now: Date) -> (froze: Bool, findings: PushFindings) {
        apply(entry, tag: tag, samples: samples, outliers: SampleOutliers.find(samples, window: sampleWindow, config: config),
              seq: seq, now: now)
    }

    /// As ``apply(_:tag:samples:seq:now:)`` with the outliers already found.
    @discardableResult
    public mutating func apply(_ entry: WindowEntry, tag: String?, samples: [SampleStat], outliers: [SampleOutlier],
                               seq: Int64, now: Date) -> (froze: Bool, findings: PushFindings) {
        let froze = apply(entry, seq: seq, now: now)
        let bucket = recordDetails(entry, tag: tag, samples: samples, outliers: outliers.count)
        return (froze, PushFindings(outliers: outliers, bucket: bucket))
    }

    /// The bucket and sample-window part of a push (also restart replay, given
    /// the stored outlier count).
    @discardableResult
    public mutating func recordDetails(_ entry: WindowEntry, tag: String?, samples: [SampleStat], outliers: Int) -> String? {
        recordDetailsUndoably(entry, tag: tag, samples: samples, outliers: outliers).bucket
    }

    mutating func recordDetailsUndoably(_ entry: WindowEntry, tag: String?, samples: [SampleStat], outliers: Int)
        -> (bucket: String?, undo: SampleWindow.Undo) {
        let undo = sampleWindow.append(SampleWindow.Batch(samples, outliers: outliers), keep: config.windowBatches)
        return (recordBucket(entry, tag: tag, checkedSamples: samples.count, outliers: outliers), undo)
    }

    /// Counts a batch in its bucket and the stream's outlier total.
    @discardableResult
    public mutating func recordBucket(_ entry: WindowEntry, tag: String?, checkedSamples: Int, outliers: Int) -> String? {
        buckets.streamOutliers += outliers
        guard let tag else { return nil }
        return buckets.add(tag: tag, entry: entry, outliers: outliers, checkedSamples: checkedSamples,
                           referenceVersion: referenceVersion, maxBuckets: config.maxBuckets)
    }

    /// The window's share of outlier samples.
    public var windowOutlierFraction: Double? { sampleWindow.outlierFraction(last: config.windowBatches) }
}
