import Foundation
import Testing
@testable import ScalectlCore

@Suite("push answers name broken files")
struct BrokenFilesTests {
    static func array(_ n: Int) -> LatentArray {
        LatentArray(dtype: .float32, shape: [n, 2, 2, 2], bytes: [UInt8](repeating: 0, count: n * 8 * 4))
    }

    /// Sample indices map back to files, also across a halved batch.
    @Test func indicesMapToTheirFiles() throws {
        var b = PushBatcher(limit: 1 << 20)
        _ = b.add(Self.array(3), file: "a.npy")
        _ = b.add(Self.array(1), file: "b.npy")
        _ = b.add(Self.array(2), file: "c.npy")
        let batch = try #require(b.flush().first)
        #expect(batch.samples == 6)
        #expect((0..<7).map { batch.file(ofSample: $0) } == ["a.npy", "a.npy", "a.npy", "b.npy", "c.npy", "c.npy", nil])
        let halves = PushBatcher.halve(batch)
        #expect(halves.map(\.files) == [["a.npy"], ["b.npy", "c.npy"]])
        #expect((0..<3).map { halves[1].file(ofSample: $0) } == ["b.npy", "c.npy", "c.npy"])
    }

    @Test func answersBecomeFileLists() throws {
        var b = PushBatcher(limit: 1 << 20)
        for f in ["x0", "x1", "x2", "x3"] { _ = b.add(Self.array(1), file: f) }
        let batch = try #require(b.flush().first)
        let answer = try JSONValue(parsing: """
            {"outliers": [{"index": 1, "nan": 2, "inf": 0, "nonfinite": true, "reasons": ["nonfinite"]},
                          {"index": 2, "nan": 0, "inf": 1, "nonfinite": true, "reasons": ["nonfinite", "mean_z"]},
                          {"index": 3, "nan": 0, "inf": 0, "nonfinite": false, "reasons": ["std_z"]}],
             "outliers_total": 5}
            """)
        var broken = BrokenFiles()
        broken.add(answer: answer, batch: batch)
        #expect(broken.nan == ["x1"] && broken.inf == ["x2"] && broken.outliers == ["x2", "x3"])
        #expect(broken.unlisted == 2)
        let lines = broken.lines(limit: 10)
        #expect(lines.first == "NaN in 1 file: x1")
        #expect(lines.contains("outliers in 2 files: x2 x3"))
        #expect(broken.json["broken_files"]?["inf"] == .array([.string("x2")]))
    }
}
