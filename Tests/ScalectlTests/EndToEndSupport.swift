import Foundation
import Testing
@testable import ScalectlCore

/// A real `scaled` on a temporary socket and database, stopped with SIGTERM
/// when the test lets go of it.
final class Daemon: Sendable {
    let dir: TempDir
    let socket: String
    let process: Process
    let scalectl: String

    init() async throws {
        let scaled = try #require(Binaries.scaled, "scaled is not built (looked in \(Binaries.productsDirectory) and $SCALED_BIN)")
        scalectl = try #require(Binaries.scalectl, "scalectl is not built (looked in \(Binaries.productsDirectory) and $SCALECTL_BIN)")
        dir = try TempDir()
        socket = dir.file("s.sock")
        process = Process()
        process.executableURL = URL(fileURLWithPath: scaled)
        process.arguments = ["--socket", socket, "--db", dir.file("db.sqlite"), "--log-level", "warning"]
        process.standardOutput = FileHandle.nullDevice
        // Kept in the temporary directory, so that a daemon that does not come
        // up says why in the test's failure.
        let log = dir.file("scaled.log")
        FileManager.default.createFile(atPath: log, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: log)
        try process.run()
        // Ready when GET /v1/health answers. The whole suite runs at once on
        // small CI machines, so the wait is generous; the last error is kept.
        let client = DaemonClient(socketPath: socket, timeoutSeconds: 5)
        let started = Date(), deadline = started.addingTimeInterval(90)
        var last = "no answer yet"
        while Date() < deadline {
            switch await client.sendResult(.GET, "/v1/health") {
            case .success(let r) where r.status == 200: return
            case .success(let r): last = "GET /v1/health answered \(r.status)"
            case .failure(let e): last = "\(e)"
            }
            guard process.isRunning else { break }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        let exited = process.isRunning ? "still running" : "exited with status \(process.terminationStatus)"
        if process.isRunning { process.terminate(); process.waitUntilExit() }
        let stderr = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        throw CLIError(.unavailable, """
            scaled did not become healthy on \(socket) after \(Int(Date().timeIntervalSince(started))) s \
            (\(exited); last: \(last)); its stderr:
            \(stderr.suffix(2000))
            """)
    }

    deinit {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// Runs scalectl against this daemon (through SCALED_SOCKET), without a terminal and without colour.
    @discardableResult
    func ctl(_ arguments: [String], stdin: String? = nil, cwd: String? = nil) throws -> Run {
        var env = ProcessInfo.processInfo.environment
        env["SCALED_SOCKET"] = socket
        env["NO_COLOR"] = "1"
        return try Proc.run(scalectl, arguments, environment: env, cwd: cwd, stdin: stdin)
    }

    /// The daemon's JSON for `path`, fetched directly.
    func get(_ path: String) async throws -> JSONValue {
        let r = try await DaemonClient(socketPath: socket, timeoutSeconds: 10).send(.GET, path)
        return try JSONValue(parsing: r.body)
    }
}

/// `actual` is within `rel` of `expected`, relative to `scale` (the data's
/// spread, so that means near zero are compared sensibly).
func approximately(_ actual: Double?, _ expected: Double?, scale: Double, rel: Double = 1e-9) -> Bool {
    guard let actual, let expected else { return false }
    return abs(actual - expected) <= rel * max(abs(expected), scale)
}
