#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging
import ServiceLifecycle

/// systemd's readiness protocol (`sd_notify(3)`): datagrams such as `READY=1`
/// to the socket in `$NOTIFY_SOCKET` (a path, or `@name` in the abstract
/// namespace). Without `NOTIFY_SOCKET` every call does nothing.
public struct SystemdNotifier: Sendable {
    let path: String?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        path = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
    }

    public var isEnabled: Bool { path != nil }

    /// Sends one message; failures are returned, never thrown at the caller's loop.
    @discardableResult
    public func send(_ message: String) -> Bool {
        guard let path else { return false }
        #if canImport(Glibc)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let fd = socket(AF_UNIX, SOCK_DGRAM, 0)
        #endif
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }   // abstract namespace
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == 0 ? 0 : 1))
        let payload = Array(message.utf8)
        let sent = withUnsafePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                sendto(fd, payload, payload.count, 0, sa, length)
            }
        }
        return sent == payload.count
    }

    /// Half of `$WATCHDOG_USEC`, when the watchdog is on for this process.
    public static func watchdogInterval(environment env: [String: String] = ProcessInfo.processInfo.environment) -> Duration? {
        guard let text = env["WATCHDOG_USEC"], let usec = UInt64(text), usec > 0 else { return nil }
        if let pid = env["WATCHDOG_PID"], let p = Int32(pid), p != getpid() { return nil }
        return .microseconds(Int64(usec / 2))
    }
}

/// Tells systemd that `scaled` is stopping as soon as shutdown begins (it is
/// the last service, so the first to be told), and pets the watchdog at half
/// of `WATCHDOG_USEC` until then. `READY=1` is sent once the socket is served.
struct SystemdNotifyService: Service {
    let notifier: SystemdNotifier
    let watchdog: Duration?
    let logger: Logger

    func run() async throws {
        guard notifier.isEnabled else { try? await gracefulShutdown(); return }
        let notifier = self.notifier
        await withTaskGroup(of: Void.self) { group in
            if let watchdog {
                group.addTask {
                    while !Task.isCancelled {
                        notifier.send("WATCHDOG=1")
                        do { try await Task.sleep(for: watchdog) } catch { return }
                    }
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        notifier.send("STOPPING=1")
        logger.debug("told systemd: STOPPING=1")
    }
}
