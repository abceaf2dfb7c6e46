import Foundation
import StreamModel
import Logging

/// Runs `--alert-command` for every alert transition, with the alert as JSON
/// on stdin, one at a time, off the push path.
///
/// The queue is bounded (a backlog beyond 256 transitions drops the oldest
/// and logs it) and each run is killed after 30 seconds, so a slow or failing
/// command never blocks pushes; failures are logged.
actor AlertNotifier {
    let command: String?
    let logger: Logger
    private var queue: [Data] = []
    private var running = false
    static let maxQueue = 256
    static let timeout: TimeInterval = 30

    init(command: String?, logger: Logger) {
        self.command = command; self.logger = logger
    }

    func notify(_ events: [AlertEvent]) {
        guard command != nil, !events.isEmpty else { return }
        for e in events { queue.append(e.json.encoded()) }
        if queue.count > Self.maxQueue {
            let dropped = queue.count - Self.maxQueue
            queue.removeFirst(dropped)
            logger.warning("alert command is falling behind; dropped \(dropped) notification(s)")
        }
        if !running {
            running = true
            Task.detached { await self.drain() }
        }
    }

    private func next() -> Data? {
        if queue.isEmpty { running = false; return nil }
        return queue.removeFirst()
    }

    private func drain() async {
        while let payload = next() {
            await run(payload)
        }
    }

    /// Runs the command once; returns when it exits or is killed.
    nonisolated func run(_ payload: Data) async {
        guard let command else { return }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let stdin = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = FileHandle.nullDevice
        process.standardError = stderr
        do {
            try process.run()
        } catch {
            logger.error("alert command could not start", metadata: ["command": "\(command)", "error": "\(error)"])
            return
        }
        // A command that exits without reading its stdin closes the pipe: that is
        // its business, not a reason to fail (FileHandle.write(_:) would trap).
        do { try stdin.fileHandleForWriting.write(contentsOf: payload) } catch {
            logger.debug("alert command did not read its input", metadata: ["error": "\(error)"])
        }
        try? stdin.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(Self.timeout)
        while process.isRunning {
            if Date() > deadline {
                process.terminate()
                logger.error("alert command timed out after \(Int(Self.timeout)) s and was killed", metadata: ["command": "\(command)"])
                break
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        process.waitUntilExit()
        if process.terminationReason == .exit && process.terminationStatus != 0 {
            let err = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile().prefix(500), as: UTF8.self)
            logger.error("alert command failed", metadata: ["command": "\(command)", "status": "\(process.terminationStatus)", "stderr": "\(err)"])
        }
    }
}
