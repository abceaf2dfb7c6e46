import Foundation
import LatentStats
import StreamModel

extension AlertEvent {
    var json: JSONValue {
        alertJSON(stream: stream, kind: kind, state: transition.state, severity: kind.severity,
                  since: transition.since, resolvedAt: transition.resolvedAt, message: transition.message,
                  value: transition.value)
    }
}

/// One alert as `GET /v1/alerts` lists it and `--alert-command` receives it.
func alertJSON(stream: String, kind: AlertKind, state: AlertState, severity: AlertSeverity, since: Date, resolvedAt: Date?,
               message: String, value: Double?) -> JSONValue {
    .object([
        ("stream", .string(stream)),
        ("kind", .string(kind.rawValue)),
        ("state", .string(state.rawValue)),
        ("severity", .string(severity.rawValue)),
        ("since", Timestamp.json(since)),
        ("resolved_at", Timestamp.json(resolvedAt)),
        ("message", .string(message)),
        ("value", .num(value)),
    ])
}

extension StreamState {
    /// Active alerts (pending or firing), for status and push responses.
    func activeFlags() -> [JSONValue] {
        AlertKind.allCases.compactMap { kind in
            guard let m = alerts[kind], m.phase != .inactive else { return nil }
            return flagJSON(kind, state: m.phase.rawValue, since: m.since, message: m.message, value: m.value)
        }
    }

    /// One entry of a `flags` list.
    func flagJSON(_ kind: AlertKind, state: String, since: Date?, message: String, value: Double?) -> JSONValue {
        .object([
            ("kind", .string(kind.rawValue)),
            ("state", .string(state)),
            ("severity", .string(kind.severity.rawValue)),
            ("since", Timestamp.json(since)),
            ("message", .string(message)),
            ("value", .num(value)),
        ])
    }
}
