import Foundation

/// One alert's lifecycle: a condition true for `forBatches` consecutive
/// evaluations goes pending → firing; false again → resolved (inactive).
public struct AlertMachine: Sendable, Equatable {
    public var phase: AlertPhase = .inactive
    public var consecutive = 0
    public var since: Date?
    public var message = ""
    public var value: Double?

    public init() {}

    public init(phase: AlertPhase, consecutive: Int, since: Date?, message: String, value: Double?) {
        self.phase = phase; self.consecutive = consecutive; self.since = since; self.message = message; self.value = value
    }

    /// A change of phase, to store, log and announce.
    public struct Transition: Sendable, Equatable {
        public init(state: AlertState, since: Date, resolvedAt: Date? = nil, message: String, value: Double?) {
            self.state = state; self.since = since; self.resolvedAt = resolvedAt; self.message = message; self.value = value
        }

        public var state: AlertState
        public var since: Date
        public var resolvedAt: Date?
        public var message: String
        public var value: Double?
    }

    /// Feeds one evaluation. `immediate` skips the pending phase (non-finite values).
    ///
    /// `message` is built only when `condition` holds: the flags are evaluated
    /// on every push, and formatting four messages that were then dropped was
    /// a measurable part of a small push's cost.
    public mutating func evaluate(_ condition: Bool, forBatches: Int, immediate: Bool = false,
                                  now: Date, message: @autoclosure () -> String, value: Double?) -> [Transition] {
        if condition {
            let message = message()
            consecutive += 1
            self.message = message
            self.value = value
            var out: [Transition] = []
            if phase == .inactive {
                since = now
                if immediate || forBatches <= 1 {
                    phase = .firing
                    return [Transition(state: .firing, since: now, message: message, value: value)]
                }
                phase = .pending
                out.append(Transition(state: .pending, since: now, message: message, value: value))
            }
            if phase == .pending && consecutive >= forBatches {
                phase = .firing
                out.append(Transition(state: .firing, since: since ?? now, message: message, value: value))
            }
            return out
        }
        consecutive = 0
        guard phase != .inactive else { return [] }
        let started = since ?? now
        phase = .inactive
        since = nil
        self.value = value
        return [Transition(state: .resolved, since: started, resolvedAt: now, message: self.message, value: value)]
    }
}
