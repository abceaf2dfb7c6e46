import Foundation
import ScaleStore

/// A directory under the system temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("ScaleStoreTests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// Runs `body` with a fresh file database in a temporary directory.
func withFileDatabase<T>(_ body: (ScaleDatabase, String) throws -> T) throws -> T {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let path = directory.path("scaled.db")
    let db = try ScaleDatabase(path: path)
    return try body(db, path)
}

/// A time with millisecond precision, as a daemon would record it.
func time(_ offset: Double) -> Date {
    Date(timeIntervalSince1970: 1_760_000_000.125 + offset)
}

func makeStream(_ name: String = "sd15", config: String = #"{"window_batches":100}"#) -> StreamRecord {
    StreamRecord(
        name: name, config: Data(config.utf8), state: Data(#"{"reference":null}"#.utf8),
        createdAt: time(0), updatedAt: time(0))
}

/// An entry whose values all depend on `seq`, so mixed-up rows show.
func makeEntry(_ stream: String = "sd15", seq: Int64) -> JournalEntry {
    let x = Double(seq)
    return JournalEntry(
        stream: stream, seq: seq, step: 1000 + seq, tag: seq.isMultiple(of: 2) ? "1024x1024" : nil,
        time: time(x), samples: 32, elements: 524_288 + Int(seq), nonfinite: Int(seq % 3),
        mean: 0.01 * x, std: 5.5 + x / 1000, normalizedStd: 1.0 + x / 1e4, clampFraction: 0.3 - x / 1e5,
        summary: Data("summary-\(seq)".utf8))
}

/// Creates the stream and appends entries 1...count.
func fill(_ db: ScaleDatabase, _ stream: String = "sd15", count: Int64) throws {
    try db.upsertStream(makeStream(stream))
    for seq in 1...count where count > 0 {
        try db.append(makeEntry(stream, seq: seq))
    }
}
