import Testing
@testable import StreamModel

/// ``RobustScale/median(_:)`` selects instead of sorting; a sort is the oracle.
@Suite struct MedianTests {
    static func sortedMedian(_ v: [Double]) -> Double {
        let s = v.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    @Test(arguments: [1, 2, 3, 16, 17, 18, 100, 101, 4096, 4097, 10_001])
    func medianEqualsTheSortedMedian(_ n: Int) {
        var state: UInt64 = UInt64(n) &* 2654435761
        func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53) - 0.5
        }
        let random = (0..<n).map { _ in next() }
        let fewDistinct = (0..<n).map { _ in (next() * 6).rounded() }   // many ties
        let cases: [[Double]] = [random, fewDistinct, random.sorted(), random.sorted().reversed(),
                                 [Double](repeating: 1.5, count: n), (0..<n).map { Double($0 % 7) }]
        for v in cases {
            #expect(RobustScale.median(v) == Self.sortedMedian(v), "n = \(n)")
        }
    }

    @Test func selectPutsTheOrderStatisticInPlace() {
        var v: [Double] = (0..<1000).map { Double(($0 * 7919) % 1000) / 10 }
        let k = 333
        let x = v.withUnsafeMutableBufferPointer { RobustScale.select($0, k) }
        #expect(x == 33.3)
        #expect(v[..<k].allSatisfy { $0 <= x } && v[(k + 1)...].allSatisfy { $0 >= x })
    }
}
