import Foundation
import LatentStats

/// Another node's contribution to a stream: its own cumulative summary, as
/// its leader last sent it (`PUT …/peers/{peer}`).
public struct PeerSummary: Sendable, Equatable {
    public var summary: BatchSummary
    public var updatedAt: Date

    public init(summary: BatchSummary, updatedAt: Date) { self.summary = summary; self.updatedAt = updatedAt }
}

/// Which statistics an answer is over.
public enum StatisticsScope: String, Sendable, CaseIterable {
    /// This node's own data (the default).
    case local
    /// This node's data merged with every peer's latest summary.
    case global
}

extension StreamState {
    /// Replaces `peer`'s contribution: repeated syncs never double-count.
    public mutating func setPeer(_ peer: String, _ summary: BatchSummary, now: Date) {
        peers[peer] = PeerSummary(summary: summary, updatedAt: now)
        updatedAt = now
    }

    /// Removes `peer`; false when there was none.
    @discardableResult
    public mutating func removePeer(_ peer: String, now: Date) -> Bool {
        guard peers.removeValue(forKey: peer) != nil else { return false }
        updatedAt = now
        return true
    }

    /// The cumulative statistics of `scope`: local, or merged with every peer
    /// (in name order, so the same peers give the same bits).
    public func cumulative(_ scope: StatisticsScope) -> BatchSummary? {
        guard scope == .global, !peers.isEmpty else { return cumulative }
        var all = cumulative
        for name in peers.keys.sorted() {
            let p = peers[name]!.summary
            if all == nil { all = BatchSummary(channels: p.channels) }
            all!.merge(p)
        }
        return all
    }

    /// The channel count every summary of this stream must have, if it is fixed yet.
    public var expectedChannels: Int? {
        channels ?? reference?.channelCount ?? peers.values.first?.summary.channels
    }
}
