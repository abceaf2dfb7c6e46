import Foundation
import LatentStats
import ScaleStore
import StreamModel

/// The summary media type (`scaled-protocol(7)`, "SUMMARY FORMAT").
let summaryMediaType = "application/vnd.latentscale.summary"

extension StreamActor {
    /// `GET …/summary`: this node's own cumulative statistics (or its window),
    /// never including peers, in the versioned binary form.
    func summary(window: Bool) throws(APIError) -> [UInt8] {
        guard let s = window ? state.windowSummaryWithSketch : state.cumulative else {
            throw APIError(NormalizationError.noData)
        }
        return s.encoded()
    }

    /// `PUT …/peers/{peer}`: replaces the peer's contribution, durably.
    func setPeer(_ peer: String, bytes: [UInt8], now: Date) throws(APIError) -> JSONValue {
        let summary: BatchSummary
        do { summary = try BatchSummary(validating: bytes) } catch {
            throw APIError.badRequest("invalid_summary", "the body is not a valid latentscale summary (\(error.description)); send the bytes of GET /v1/streams/NAME/summary unchanged, with Content-Type \(summaryMediaType)")
        }
        if deleted { throw APIError(.conflict, "stream_deleted", "stream '\(state.name)' was deleted while the request was in flight; send it again") }
        if let c = state.channels ?? state.reference?.channelCount, c != summary.channels {
            throw APIError(.conflict, "channel_mismatch", "stream '\(state.name)' has \(c) channels but peer '\(peer)' sent a summary of \(summary.channels); the nodes are not pushing the same latents")
        }
        if let (other, p) = state.peers.first(where: { $0.key != peer && $0.value.summary.channels != summary.channels }) {
            throw APIError(.conflict, "channel_mismatch", "peer '\(other)' of stream '\(state.name)' has \(p.summary.channels) channels but peer '\(peer)' sent \(summary.channels)")
        }
        var next = state
        next.setPeer(peer, summary, now: now)
        do {
            try db.setPeer(PeerRecord(stream: state.name, peer: peer, summary: Data(bytes), updatedAt: now),
                           updating: StreamPersistence.record(next))
        } catch {
            throw APIError(.internalServerError, "storage_failed", "could not store the peer's summary: \(error)")
        }
        commit(next)
        return .object([("stream", .string(state.name)), ("peer", .string(peer)),
                        ("samples", .int(summary.samples)), ("elements", .int(summary.elements))])
    }

    /// `DELETE …/peers/{peer}`.
    func deletePeer(_ peer: String, now: Date) throws(APIError) -> JSONValue {
        guard state.peers[peer] != nil else {
            throw APIError(.notFound, "peer_not_found", "stream '\(state.name)' has no peer named '\(peer)'; see the peers in its status")
        }
        var next = state
        next.removePeer(peer, now: now)
        do { try db.deletePeer(stream: state.name, peer: peer) } catch {
            throw APIError(.internalServerError, "storage_failed", "could not remove the peer: \(error)")
        }
        commit(next)
        return .object([("deleted", .string(peer))])
    }
}
