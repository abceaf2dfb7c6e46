#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Prepares a Unix socket path for binding: creates its directory, replaces a
/// stale socket file left by a crash, and refuses to steal a live one.
public enum UnixSocketGuard {
    public enum Failure: Error, CustomStringConvertible {
        case inUse(String)
        case notASocket(String)
        case pathTooLong(String)
        case cannotCreateDirectory(String, String)
        case cannotRemove(String, String)

        public var description: String {
            switch self {
            case .inUse(let p): "another scaled is already serving \(p); stop it first, or start this one with another --socket"
            case .notASocket(let p): "\(p) exists and is not a socket; remove it or choose another --socket"
            case .pathTooLong(let p): "socket path \(p) is longer than the 107 bytes a Unix socket address holds; choose a shorter --socket"
            case .cannotCreateDirectory(let d, let e): "cannot create the socket directory \(d): \(e)"
            case .cannotRemove(let p, let e): "cannot remove the stale socket \(p): \(e)"
            }
        }
    }

    public static func prepare(path: String) throws(Failure) {
        guard path.utf8.count < 108 else { throw .pathTooLong(path) }
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty && !FileManager.default.fileExists(atPath: dir) {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            } catch { throw .cannotCreateDirectory(dir, "\(error)") }
        }
        var st = stat()
        guard lstat(path, &st) == 0 else { return } // nothing there
        guard (st.st_mode & S_IFMT) == S_IFSOCK else { throw .notASocket(path) }
        if isLive(path: path) { throw .inUse(path) }
        if unlink(path) != 0 { throw .cannotRemove(path, String(cString: strerror(errno))) }
    }

    /// Whether something accepts connections on the socket.
    public static func isLive(path: String) -> Bool {
        #if canImport(Glibc)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() where i < raw.count - 1 { raw[i] = b }
        }
        let result = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0
    }

    /// Removes the socket file on shutdown.
    public static func remove(path: String) { unlink(path) }
}
