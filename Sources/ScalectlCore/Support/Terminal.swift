#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// What the process is attached to, decided once per run.
public struct Terminal: Sendable {
    public var stdoutIsTTY: Bool
    public var stderrIsTTY: Bool
    public var stdinIsTTY: Bool
    /// ANSI colour on stdout: a TTY, `NO_COLOR` unset or empty
    /// (https://no-color.org), and a terminal that is not `dumb`.
    public var color: Bool

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        stdoutIsTTY = isatty(STDOUT_FILENO) == 1
        stderrIsTTY = isatty(STDERR_FILENO) == 1
        stdinIsTTY = isatty(STDIN_FILENO) == 1
        color = Terminal.colorAllowed(isTTY: stdoutIsTTY, environment: environment)
    }

    public static func colorAllowed(isTTY: Bool, environment: [String: String]) -> Bool {
        guard isTTY else { return false }
        if let noColor = environment["NO_COLOR"], !noColor.isEmpty { return false }
        if environment["TERM"] == "dumb" { return false }
        return true
    }

    /// Columns of the terminal on stdout, or `nil` when it is not one.
    public static func columns() -> Int? {
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }
}

/// Writes without buffering surprises: everything scalectl prints goes
/// through here so progress lines and results interleave correctly.
public enum Output {
    public static func out(_ text: String) { writeAll(STDOUT_FILENO, text) }
    public static func err(_ text: String) { writeAll(STDERR_FILENO, text) }
}

private func writeAll(_ fd: Int32, _ text: String) {
    let bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeBytes { buf in write(fd, buf.baseAddress! + offset, buf.count - offset) }
        if n < 0 {
            if errno == EINTR { continue }
            return
        }
        offset += n
    }
}

/// ANSI styling that turns into plain text when colour is off.
public struct Style: Sendable {
    public var enabled: Bool
    public init(enabled: Bool) { self.enabled = enabled }

    public func red(_ s: String) -> String { wrap(s, "31") }
    public func yellow(_ s: String) -> String { wrap(s, "33") }
    public func green(_ s: String) -> String { wrap(s, "32") }
    public func cyan(_ s: String) -> String { wrap(s, "36") }
    public func bold(_ s: String) -> String { wrap(s, "1") }
    public func dim(_ s: String) -> String { wrap(s, "2") }

    private func wrap(_ s: String, _ code: String) -> String {
        enabled && !s.isEmpty ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s
    }
}
