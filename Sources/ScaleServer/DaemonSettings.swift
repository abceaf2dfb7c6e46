#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging
import ScaledPaths

/// What `scaled` was given on its command line; nil where an option was not given.
public struct DaemonOptions: Sendable, Equatable {
    public var socket: String?
    public var db: String?
    public var socketMode: String?
    public var maxBodyBytes: Int?
    public var logLevel: String?
    public var metricsAddress: String?
    public var alertCommand: String?
    /// Comma-separated uids and gids let in besides the daemon's own uid and root.
    public var allowUID: String?
    public var allowGID: String?

    public init(socket: String? = nil, db: String? = nil, socketMode: String? = nil, maxBodyBytes: Int? = nil,
                logLevel: String? = nil, metricsAddress: String? = nil, alertCommand: String? = nil,
                allowUID: String? = nil, allowGID: String? = nil) {
        self.socket = socket; self.db = db; self.socketMode = socketMode; self.maxBodyBytes = maxBodyBytes
        self.logLevel = logLevel; self.metricsAddress = metricsAddress; self.alertCommand = alertCommand
        self.allowUID = allowUID; self.allowGID = allowGID
    }
}

/// What `scaled` runs with: options override `SCALED_*` environment variables,
/// which override the embedded defaults (`scaled(8)`).
public struct DaemonSettings: Sendable {
    public var socketPath: String
    public var databasePath: String
    public var socketMode: UInt16 = 0o600
    public var maxBodyBytes: Int = 2 << 30
    public var logLevel: Logger.Level = .info
    /// `HOST:PORT` to also serve `GET /metrics` and `GET /v1/health` on, over TCP.
    public var metricsAddress: (host: String, port: Int)?
    /// Run for every alert transition with the alert as JSON on stdin.
    public var alertCommand: String?
    /// Who may connect (`SO_PEERCRED`).
    public var peers = PeerPolicy()

    public init(socketPath: String, databasePath: String) {
        self.socketPath = socketPath; self.databasePath = databasePath
    }

    /// A value that cannot be used; the message says which and what to give instead.
    public struct Invalid: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    /// Merges `options`, then `environment`, then the defaults.
    /// - Throws: ``Invalid`` naming the option or variable that is wrong.
    public init(options o: DaemonOptions, environment env: [String: String] = ProcessInfo.processInfo.environment) throws(Invalid) {
        self.init(socketPath: SocketPath.resolve(explicit: o.socket, environment: env),
                  databasePath: DatabasePath.resolve(explicit: o.db, environment: env, home: NSHomeDirectory()))
        if let m = o.socketMode ?? env["SCALED_SOCKET_MODE"].nonEmpty {
            guard let v = UInt16(m, radix: 8), v <= 0o777 else {
                throw Invalid(description: "--socket-mode '\(m)' is not an octal mode such as 0600 or 0660")
            }
            socketMode = v
        }
        if let b = o.maxBodyBytes {
            guard b > 0 else { throw Invalid(description: "--max-body-bytes must be positive") }
            maxBodyBytes = b
        } else if let text = env["SCALED_MAX_BODY_BYTES"].nonEmpty {
            guard let b = Int(text), b > 0 else {
                throw Invalid(description: "SCALED_MAX_BODY_BYTES '\(text)' is not a positive number of bytes")
            }
            maxBodyBytes = b
        }
        let levelText = o.logLevel ?? env["SCALED_LOG_LEVEL"].nonEmpty ?? "info"
        guard let level = Logger.Level(rawValue: levelText) else {
            throw Invalid(description: "log level '\(levelText)' is unknown; use trace, debug, info, notice, warning, error or critical")
        }
        logLevel = level
        if let a = o.metricsAddress ?? env["SCALED_METRICS_ADDRESS"], !a.isEmpty {
            guard let colon = a.lastIndex(of: ":"), let port = Int(a[a.index(after: colon)...]), (1...65535).contains(port),
                  colon != a.startIndex else {
                throw Invalid(description: "--metrics-address '\(a)' is not HOST:PORT, e.g. 127.0.0.1:9464")
            }
            metricsAddress = (String(a[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port)
        }
        alertCommand = o.alertCommand ?? env["SCALED_ALERT_COMMAND"].nonEmpty
        func ids(_ text: String?, _ name: String) throws(Invalid) -> [UInt32] {
            guard let text else { return [] }
            var out: [UInt32] = []
            for part in text.split(separator: ",", omittingEmptySubsequences: false) {
                guard let v = UInt32(part.trimmingCharacters(in: .whitespaces)) else {
                    throw Invalid(description: "\(name) '\(text)' is not a comma-separated list of numeric ids, e.g. 1000,1001")
                }
                out.append(v)
            }
            return out
        }
        peers = PeerPolicy(allowUIDs: try ids(o.allowUID ?? env["SCALED_ALLOW_UID"].nonEmpty, "--allow-uid"),
                           allowGIDs: try ids(o.allowGID ?? env["SCALED_ALLOW_GID"].nonEmpty, "--allow-gid"))
    }
}

private extension Optional<String> {
    var nonEmpty: String? { flatMap { $0.isEmpty ? nil : $0 } }
}
