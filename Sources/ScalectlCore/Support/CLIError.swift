/// An error a person can act on: `message` is one line that says what went
/// wrong and what to do about it; `status` is the process exit status.
public struct CLIError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var status: ExitStatus

    public init(_ status: ExitStatus, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { message }
}

extension CLIError {
    /// Maps a daemon error response to an exit status: mistakes in what the
    /// user typed are usage errors, rejected tensors are data errors.
    public static func fromDaemon(httpStatus: Int, code: String?, message: String?, what: String) -> CLIError {
        let text = message.map { "\(what): \($0)" } ?? "\(what): the daemon answered HTTP \(httpStatus)"
        let status: ExitStatus
        switch (httpStatus, code) {
        case (_, "stream_not_found"):
            status = .noInput
        case (_, "invalid_dtype"), (_, "invalid_shape"), (_, "length_mismatch"), (_, "invalid_channel_axis"),
             (_, "channel_mismatch"), (_, "invalid_npy"), (_, "unsupported_npy"), (_, "body_too_large"),
             (_, "unsupported_media_type"), (_, "no_data"), (_, "zero_spread"), (_, "singular_covariance"),
             (_, "stream_deleted"), (409, _):
            // The data (or the lack of it) is the problem, not the command.
            status = .dataError
        case (_, "invalid_stream_name"), (_, "invalid_config"), (_, "invalid_query"):
            status = .usage
        case (404, _), (405, _):
            // A route this daemon does not know: it is older or newer than scalectl.
            status = .protocolError
        case (400..<500, _):
            status = .usage
        default:
            status = .software
        }
        return CLIError(status, text)
    }
}
