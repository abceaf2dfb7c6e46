#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where `scaled` listens unless told otherwise: one rule for the daemon and
/// its clients (`scaled(8)`, ENVIRONMENT), so that both ends agree without
/// configuration. The Python package's `default_socket_path` follows it too;
/// `Tests/fixtures/socket_paths.json` holds the cases both test.
public enum SocketPath {
    /// `explicit` (from `--socket`), else `$SCALED_SOCKET`, else
    /// `$XDG_RUNTIME_DIR/scaled.sock`, else `/tmp/scaled-$UID/scaled.sock`.
    /// Empty values count as unset.
    public static func resolve(explicit: String?, environment: [String: String], uid: UInt32 = getuid()) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let env = environment["SCALED_SOCKET"], !env.isEmpty { return env }
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty {
            return runtime.joiningPath("scaled.sock")
        }
        return "/tmp/scaled-\(uid)/scaled.sock"
    }
}

/// Where `scaled` keeps its database unless told otherwise (`scaled(8)`).
public enum DatabasePath {
    /// `explicit` (from `--db`), else `$SCALED_DB`, else
    /// `$XDG_STATE_HOME/scaled/scaled.db`, else `$HOME/.local/state/scaled/scaled.db`.
    /// Empty values count as unset.
    public static func resolve(explicit: String?, environment: [String: String], home: String) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let s = environment["SCALED_DB"], !s.isEmpty { return s }
        if let x = environment["XDG_STATE_HOME"], !x.isEmpty { return x.joiningPath("scaled/scaled.db") }
        let h = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home
        return h.joiningPath(".local/state/scaled/scaled.db")
    }
}

extension String {
    func joiningPath(_ tail: String) -> String { hasSuffix("/") ? self + tail : self + "/" + tail }
}
