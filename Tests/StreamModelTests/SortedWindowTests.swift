import Foundation
import LatentStats
import Testing
@testable import StreamModel

/// The sample window's sorted values, kept in step by appends, undos and
/// restores, against sorting ``SampleWindow/values(last:)``; and the robust
/// scale read off sorted values against ``RobustScale/init(_:)``.
@Suite struct SortedWindowTests {
    struct LCG {
        var state: UInt64
        mutating func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53) - 0.5
        }
        mutating func int(_ n: Int) -> Int { Int((next() + 0.5) * Double(n)) % n }
    }

    static func check(_ w: SampleWindow, _ note: String) {
        let v = w.values(last: w.batches.count)
        #expect(w.sortedMeans == v.means.filter { !$0.isNaN }.sorted(), "\(note)")
        #expect(w.sortedStds == v.stds.filter { !$0.isNaN }.sorted(), "\(note)")
    }

    static func batch(_ g: inout LCG, ties: Bool) -> SampleWindow.Batch {
        let n = g.int(50)
        let means = (0..<n).map { _ in ties ? (g.next() * 8).rounded() : g.next() }
        let stds = (0..<n).map { _ in 1 + (ties ? (g.next() * 4).rounded() / 4 : g.next()) }
        return SampleWindow.Batch(means: means, stds: stds, samples: n + g.int(3), outliers: g.int(2))
    }

    @Test(arguments: [false, true])
    func sortedValuesFollowAppendUndoAndRestore(ties: Bool) {
        var g = LCG(state: ties ? 5 : 9)
        var w = SampleWindow()
        var appended: [SampleWindow.Batch] = []
        for i in 0..<600 {
            let keep = i < 300 ? 200 : 120   // the window shrinks halfway, as after a config change
            let b = Self.batch(&g, ties: ties)
            let before = w
            let undo = w.append(b, keep: keep)
            Self.check(w, "append \(i)")
            if i % 7 == 0 {
                w.undo(undo)
                #expect(w == before, "undo \(i)")
                Self.check(w, "undo \(i)")
                w.append(b, keep: keep)
            }
            appended.append(b)
        }
        var restored = SampleWindow()
        restored.restore(appended, keep: 120)
        Self.check(restored, "restore")
        #expect(restored == w)
        #expect(w.sortedValues(last: 120) != nil)
        #expect(w.sortedValues(last: 119) == nil)   // a shorter window than held: the caller ranks values(last:)
    }

    @Test func nanValuesTurnTheSortedPathOff() {
        var w = SampleWindow()
        w.append(SampleWindow.Batch(means: [1, 2, 3], stds: [1, 1, 1], samples: 3, outliers: 0), keep: 10)
        #expect(w.sortedValues(last: 10) != nil)
        let u = w.append(SampleWindow.Batch(means: [.nan, 4], stds: [2, 2], samples: 2, outliers: 0), keep: 10)
        #expect(w.sortedValues(last: 10) == nil)
        Self.check(w, "with NaN")
        w.undo(u)
        #expect(w.sortedValues(last: 10) != nil)
    }

    @Test(arguments: [16, 17, 18, 33, 100, 101, 4096, 4129])
    func robustScaleFromSortedValuesIsIdentical(_ n: Int) {
        var g = LCG(state: UInt64(n))
        let random = (0..<n).map { _ in g.next() }
        let ties = (0..<n).map { _ in (g.next() * 6).rounded() }
        let skewed = (0..<n).map { _ in exp(4 * g.next()) }
        let withInf = random.enumerated().map { $0.offset == 3 ? Double.infinity : $0.element }
        let offset = random.map { $0 * 1e-3 + 1e4 }
        for v in [random, ties, skewed, withInf, offset, [Double](repeating: 2, count: n)] {
            let a = RobustScale(v), b = RobustScale(sorted: v.sorted())
            #expect(a == b, "n = \(n)")
        }
        #expect(RobustScale(sorted: Array(random.sorted().prefix(15))) == nil)
    }

    /// A hand-computed case: 1…17, median 9, deviations 0,1,1,…,8,8, MAD 4.
    @Test func handComputedScale() throws {
        let s = try #require(RobustScale(sorted: (1...17).map(Double.init)))
        #expect(s.median == 9)
        #expect(s.sigma == 1.482602218505602 * 4)
    }

    /// The outliers found from the sorted window are those found by ranking.
    @Test func findGivesTheSameOutliers() {
        var g = LCG(state: 77)
        var w = SampleWindow()
        for _ in 0..<150 { w.append(Self.batch(&g, ties: false), keep: 100) }
        let sorted = w.sortedValues(last: 100)!, plain = w.values(last: 100)
        let config = StreamConfig()
        var found = 0
        for trial in 0..<20 {
            let stats = (0..<32).map { i -> SampleStat in
                let wild = trial % 3 == 0 && i % 9 == 0
                return SampleStat(mean: wild ? 40 * g.next() : g.next(), std: 1 + g.next() * (wild ? 20 : 1), nan: i == 5 && trial == 1 ? 2 : 0)
            }
            let a = SampleOutliers.find(stats, windowMeans: plain.means, windowStds: plain.stds, config: config)
            let b = SampleOutliers.find(stats, windowMeans: sorted.means, windowStds: sorted.stds, sorted: true, config: config)
            #expect(a == b)
            found += a.count
        }
        #expect(found > 10)
    }
}
