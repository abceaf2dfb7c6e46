import NIOConcurrencyHelpers

/// How many pushes are being summarized right now, so that each takes its
/// share of the cores rather than all of them.
///
/// A push's summary can be split into chunks over every core, which is what
/// one push alone wants. When several pushes are summarized at once, the
/// cores are busy anyway, and each extra chunk only adds work (its own
/// sketch tables to read, and a merge), so a push is split into
/// `cores / pushes in flight` chunks (at least 1).
final class IngestLoad: Sendable {
    private let inFlight = NIOLockedValueBox(0)
    let cores: Int

    init(cores: Int) { self.cores = cores }

    /// The chunks for a push that starts while `others` other pushes are summarized.
    static func chunks(cores: Int, others: Int) -> Int { Swift.max(1, cores / (others + 1)) }

    /// Runs `body` with the chunk count for this push, counted in flight meanwhile.
    func withShare<T>(_ body: (Int) async throws -> T) async rethrows -> T {
        let others = inFlight.withLockedValue { n in defer { n += 1 }; return n }
        defer { inFlight.withLockedValue { $0 -= 1 } }
        return try await body(Self.chunks(cores: cores, others: others))
    }
}
