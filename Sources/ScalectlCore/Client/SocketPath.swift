#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where `scaled` listens unless told otherwise; the same rule the daemon
/// uses (DESIGN §4), so that both ends agree without configuration.
public enum SocketPath {
    /// `explicit` (from `--socket`), else `$SCALED_SOCKET`, else
    /// `$XDG_RUNTIME_DIR/scaled.sock`, else `/tmp/scaled-$UID/scaled.sock`.
    /// Empty values count as unset.
    public static func resolve(explicit: String?, environment: [String: String], uid: UInt32 = getuid()) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let env = environment["SCALED_SOCKET"], !env.isEmpty { return env }
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty {
            return runtime.hasSuffix("/") ? runtime + "scaled.sock" : runtime + "/scaled.sock"
        }
        return "/tmp/scaled-\(uid)/scaled.sock"
    }
}
