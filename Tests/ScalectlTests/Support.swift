import Foundation
import Testing

/// A scratch directory removed when the test's value goes away.
final class TempDir: Sendable {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.path
        // Unix socket paths are limited to ~107 bytes: keep the name short.
        path = base + "/sctl-" + String(UUID().uuidString.prefix(8))
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// The result of running a program to completion.
struct Run {
    var status: Int32
    var stdout: String
    var stderr: String
}

enum Proc {
    /// Runs `executable` with `arguments`, feeding `stdin` and collecting both outputs.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                    cwd: String? = nil, stdin: String? = nil) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try? input.fileHandleForWriting.close()
        // Read both pipes concurrently so that neither fills up and blocks the child.
        let errData = Box(Data())
        let finished = DispatchSemaphore(value: 0)
        Thread {
            errData.value = err.fileHandleForReading.readDataToEndOfFile()
            finished.signal()
        }.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        finished.wait()
        return Run(status: process.terminationStatus,
                   stdout: String(decoding: outData, as: UTF8.self),
                   stderr: String(decoding: errData.value, as: UTF8.self))
    }

    /// Runs a Python script in `cwd`; fails the test with Python's stderr when it fails.
    @discardableResult
    static func python(_ script: String, cwd: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let result = try run("/usr/bin/env", ["python3", "-c", script], cwd: cwd)
        if result.status != 0 {
            Issue.record("python3 failed (needs numpy and safetensors: `scripts/setup --with-python`):\n\(result.stderr)",
                         sourceLocation: sourceLocation)
        }
        return result.stdout
    }
}

/// A value handed from a reader thread to the test; the semaphore orders the accesses.
final class Box<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}

/// Where the binaries under test are: `$SCALECTL_BIN`/`$SCALED_BIN`, else
/// next to the test bundle, where `swift build` puts every product.
enum Binaries {
    static var productsDirectory: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? Bundle.main.executablePath ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // On macOS the test binary sits inside PackageTests.xctest/Contents/MacOS.
        while dir.path.contains(".xctest") { dir.deleteLastPathComponent() }
        return dir.path
    }

    static func find(_ name: String, env: String) -> String? {
        if let path = ProcessInfo.processInfo.environment[env], !path.isEmpty,
           FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        let path = productsDirectory + "/" + name
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    static var scalectl: String? { find("scalectl", env: "SCALECTL_BIN") }
    static var scaled: String? { find("scaled", env: "SCALED_BIN") }
}

/// The package root (for man/scalectl.1), found from this source file.
let packageRoot: String = {
    var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    while url.path != "/" {
        if FileManager.default.fileExists(atPath: url.path + "/Package.swift"),
           FileManager.default.fileExists(atPath: url.path + "/man") {
            return url.path
        }
        url.deleteLastPathComponent()
    }
    // The prototype package links the test sources from the real tree.
    let resolved = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    return resolved.path
}()
