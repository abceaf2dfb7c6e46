import Foundation

/// The progress line `push` draws on stderr when it is a terminal:
/// `[#######·······]  412/1000 files  38.2 MB/s  ETA 12s`.
public struct ProgressBar {
    public var totalFiles: Int
    public var totalBytes: Double
    public var enabled: Bool
    private var started = Date()
    private var lastDraw = Date.distantPast

    public init(totalFiles: Int, totalBytes: Double, enabled: Bool) {
        self.totalFiles = totalFiles
        self.totalBytes = totalBytes
        self.enabled = enabled
    }

    /// The line for a given state; `elapsed` in seconds.
    public static func line(files: Int, totalFiles: Int, bytes: Double, totalBytes: Double, elapsed: Double, width: Int = 28) -> String {
        let fraction = totalBytes > 0 ? min(1, bytes / totalBytes) : (totalFiles > 0 ? Double(files) / Double(totalFiles) : 1)
        let filled = Int((fraction * Double(width)).rounded(.down))
        let bar = String(repeating: "#", count: filled) + String(repeating: "·", count: width - filled)
        let rate = elapsed > 0 ? bytes / elapsed : 0
        let eta = rate > 0 ? (totalBytes - bytes) / rate : .infinity
        return "[\(bar)] \(files)/\(totalFiles) files  \(Fmt.bytes(rate))/s  ETA \(Fmt.duration(eta))"
    }

    /// Redraws at most ten times a second, unless `force`.
    public mutating func update(files: Int, bytes: Double, force: Bool = false) {
        guard enabled else { return }
        let now = Date()
        guard force || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        let text = Self.line(files: files, totalFiles: totalFiles, bytes: bytes, totalBytes: totalBytes,
                             elapsed: now.timeIntervalSince(started))
        Output.err("\r" + text + "\u{1B}[K")
    }

    /// Clears the line so that a message can be printed in its place.
    public func clear() {
        guard enabled else { return }
        Output.err("\r\u{1B}[K")
    }
}
