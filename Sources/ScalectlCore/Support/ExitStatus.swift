/// scalectl's exit statuses. 1 and 2 follow the Nagios plugin convention so
/// that `status --check` drops into cron and monitoring as is; the others are
/// the BSD `sysexits(3)` values so scripts can tell "fix your command" from
/// "start the daemon".
public enum ExitStatus: Int32, CaseIterable, Sendable {
    /// Everything worked and nothing is firing.
    case ok = 0
    /// A warning alert is firing (`--check`), some files could not be pushed,
    /// or the user declined a confirmation.
    case warning = 1
    /// A critical alert is firing (`--check`).
    case critical = 2
    /// The command line was wrong (ArgumentParser also uses 64).
    case usage = 64
    /// The data was wrong: a file that cannot be read as latents, a config
    /// file that is not JSON, or a tensor the daemon rejected.
    case dataError = 65
    /// An input does not exist: a file, or the stream on the daemon.
    case noInput = 66
    /// The daemon could not be reached on its socket.
    case unavailable = 69
    /// The daemon reported an internal error.
    case software = 70
    /// A file could not be written (`--write-config`).
    case cantCreate = 73
    /// Reading or writing failed half-way.
    case ioError = 74
    /// The daemon did not answer in time.
    case tempFail = 75
    /// The daemon answered something that is not the documented protocol.
    case protocolError = 76
}
