import AsyncHTTPClient
import Foundation
import NIOCore

/// One answer from the daemon: its status and the body exactly as sent, so
/// that `--json` can print it unchanged.
public struct DaemonResponse: Sendable {
    public var status: Int
    public var body: [UInt8]

    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The body as JSON; a body that is not JSON means we are not talking to
    /// the daemon we think we are.
    public func json() throws(CLIError) -> JSONValue {
        do {
            return try JSONValue(parsing: body)
        } catch {
            throw CLIError(.protocolError, "the daemon's answer is not JSON (\(error)); is the socket really scaled's?")
        }
    }
}

/// One client for the process. Unlike `HTTPClient.shared` it does not retry
/// failed connection attempts: on a local socket a refused connection means
/// the daemon is down, and the user should hear so at once rather than after
/// --timeout. It is never shut down; the process exits instead.
private let sharedHTTPClient: HTTPClient = {
    var configuration = HTTPClient.Configuration()
    configuration.connectionPool.retryConnectionEstablishment = false
    configuration.timeout.connect = .seconds(5)
    configuration.redirectConfiguration = .disallow
    return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
}()

/// The HTTP methods scalectl uses. (Its own type so that ScalectlCore needs
/// no direct dependency on NIOHTTP1.)
public enum RequestMethod: String, Sendable {
    case GET, PUT, POST, DELETE
}

/// HTTP/1.1 to `scaled` over its Unix socket, through AsyncHTTPClient's
/// `http+unix://` URLs (the socket path is the percent-encoded host).
public struct DaemonClient: Sendable {
    public var socketPath: String
    public var timeout: TimeAmount

    public init(socketPath: String, timeoutSeconds: Double) {
        self.socketPath = socketPath
        self.timeout = .nanoseconds(Int64(max(timeoutSeconds, 0.001) * 1e9))
    }

    /// Percent-encodes a path segment such as a stream name.
    public static func segment(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }

    /// The URI (path and query) of a request, query values percent-encoded.
    public static func uri(_ path: String, query: [(String, String)]) -> String {
        guard !query.isEmpty else { return path }
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~,")
        let parts = query.map { key, value in
            "\(key)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)"
        }
        return path + "?" + parts.joined(separator: "&")
    }

    /// Sends one request and returns any answer, 2xx or not.
    public func send(
        _ method: RequestMethod, _ path: String, query: [(String, String)] = [],
        body: ByteBuffer? = nil, contentType: String? = nil
    ) async throws(CLIError) -> DaemonResponse {
        let uri = Self.uri(path, query: query)
        guard let url = URL(httpURLWithSocketPath: socketPath, uri: uri) else {
            throw CLIError(.usage, "cannot build a request URL for socket \(socketPath) and \(uri)")
        }
        try checkSocket()
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .init(rawValue: method.rawValue)
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "scalectl/\(Scalectl.version)")
        if let body {
            request.headers.add(name: "Content-Type", value: contentType ?? "application/json")
            request.body = .bytes(body)
        }
        do {
            let response = try await sharedHTTPClient.execute(request, timeout: timeout)
            var buffer = try await response.body.collect(upTo: 1 << 30)
            let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
            return DaemonResponse(status: Int(response.status.code), body: bytes)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            throw CLIError(.tempFail, "scaled on \(socketPath) did not answer \(method) \(path) within \(seconds(timeout)) s; retry, or allow longer with --timeout")
        } catch {
            throw connectionError(error)
        }
    }

    /// `send` as a `Result`, for requests run in a child task.
    public func sendResult(
        _ method: RequestMethod, _ path: String, query: [(String, String)] = [],
        body: ByteBuffer? = nil, contentType: String? = nil
    ) async -> Result<DaemonResponse, CLIError> {
        do {
            return .success(try await send(method, path, query: query, body: body, contentType: contentType))
        } catch {
            return .failure(error)
        }
    }

    /// Sends a request and returns the JSON of a 2xx answer; a non-2xx
    /// answer becomes the daemon's error message. `what` names the action
    /// for that message ("stream sd15").
    public func expectJSON(
        _ method: RequestMethod, _ path: String, query: [(String, String)] = [],
        body: ByteBuffer? = nil, contentType: String? = nil, what: String
    ) async throws(CLIError) -> (json: JSONValue, response: DaemonResponse) {
        let response = try await send(method, path, query: query, body: body, contentType: contentType)
        guard (200..<300).contains(response.status) else { throw Self.failure(response, what: what) }
        return (try response.json(), response)
    }

    /// The error for a non-2xx answer, from its `{"error":{code,message}}`.
    public static func failure(_ response: DaemonResponse, what: String) -> CLIError {
        let parsed = try? JSONValue(parsing: response.body)
        let error = parsed?["error"]
        return CLIError.fromDaemon(
            httpStatus: response.status, code: error?["code"]?.string,
            message: error?["message"]?.string, what: what)
    }

    /// Fails early, with the reason a person can act on, when nothing can be
    /// listening at the socket path.
    func checkSocket() throws(CLIError) {
        var info = stat()
        guard stat(socketPath, &info) == 0 else {
            let reason = errno
            if reason == ENOENT || reason == ENOTDIR {
                throw CLIError(.unavailable, "scaled is not running: no socket at \(socketPath); start it with `scaled --socket \(socketPath)`, or point scalectl at its socket with --socket or SCALED_SOCKET")
            }
            throw CLIError(.unavailable, "cannot reach scaled's socket \(socketPath): \(String(cString: strerror(reason))); check the path and its permissions, or pass --socket")
        }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw CLIError(.unavailable, "\(socketPath) is not a socket; pass the socket scaled listens on with --socket or SCALED_SOCKET")
        }
    }

    func connectionError(_ error: any Error) -> CLIError {
        let text = "\(error)"
        if text.contains("ECONNREFUSED") || text.contains("Connection refused") || text.contains("errno: 111") {
            return CLIError(.unavailable, "scaled is not running: nothing listens on \(socketPath) (a stale socket left behind?); start it with `scaled --socket \(socketPath)`")
        }
        if text.contains("EACCES") || text.contains("Permission denied") || text.contains("errno: 13") {
            return CLIError(.unavailable, "permission denied on \(socketPath); run scalectl as the user that runs scaled, or give your group access to the socket")
        }
        if let error = error as? HTTPClientError, error == .remoteConnectionClosed {
            return CLIError(.unavailable, "scaled on \(socketPath) closed the connection before answering; check its log (it may have stopped)")
        }
        return CLIError(.unavailable, "cannot talk to scaled on \(socketPath): \(text); check that scaled is running with `scaled --socket \(socketPath)`")
    }

    private func seconds(_ t: TimeAmount) -> String {
        let s = Double(t.nanoseconds) / 1e9
        return s == s.rounded() ? String(Int(s)) : String(format: "%.1f", s)
    }
}
