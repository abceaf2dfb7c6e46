import Foundation
import HummingbirdCore
import LatentStats
import NpyFormat
import StreamModel

/// Entry points for the libFuzzer targets (`Sources/Fuzz*`, built only with
/// `LATENTSCALE_FUZZ=1`; see `fuzz/README.md`). Each one runs an internal
/// decoder on untrusted bytes and discards the result: any input must be
/// either accepted or refused with a thrown error, never a crash.
public enum FuzzEntry {
    /// The daemon's `.npy` push header: ``NpyHeader`` (and through it
    /// `NpyFileHeader`). Returns whether the header was accepted.
    @discardableResult
    public static func npyHeader(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { (try? NpyHeader($0)) != nil }
    }

    /// A push's request line and headers: `PushRequest` and its `checkShape()`.
    /// `query` is what follows `?` in the request target. Returns whether the
    /// push would go on to read its body.
    @discardableResult
    public static func push(name: String?, query: String, contentType: String?, contentLength: String?) -> Bool {
        let uri = URI("/v1/streams/\(name ?? "")/push?\(query)")
        do {
            let p = try PushRequest(name: name, query: uri, contentType: contentType,
                                    contentLength: contentLength, maxBodyBytes: 1 << 30)
            try p.checkShape()
            return true
        } catch {
            return false
        }
    }

    /// A `PUT /v1/streams/NAME` body: JSON parsing, then
    /// `StreamConfig().applying(_:)`. An accepted config must survive the
    /// stored form (`StoredConfig`) unchanged; a mismatch traps.
    @discardableResult
    public static func config(_ data: Data) -> Bool {
        guard let patch = try? JSONValue.parse(data), let config = try? StreamConfig().applying(patch) else { return false }
        let stored = try! StreamPersistence.encoder.encode(StoredConfig(config))
        let back = try! JSONDecoder().decode(StoredConfig.self, from: stored)
        precondition(back.config == config, "an accepted config does not survive its stored form")
        return true
    }

    /// The stream row's stored documents (`StoredConfig`, `StoredState`), a
    /// journal blob (`StreamPersistence.decodeEntry`, `decodeWithDetails`)
    /// and a snapshot's buckets (`decodeBuckets`), all from the same
    /// bytes. A document that decodes must decode again, equal, from its own
    /// encoding (what the daemon writes back); a mismatch traps.
    public static func storedStream(_ data: Data) {
        if let config = try? JSONDecoder().decode(StoredConfig.self, from: data) {
            let again = try! JSONDecoder().decode(StoredConfig.self, from: StreamPersistence.encoder.encode(config))
            precondition(again == config, "a stored config does not survive re-encoding")
        }
        if let state = try? JSONDecoder().decode(StoredState.self, from: data) {
            let again = try! JSONDecoder().decode(StoredState.self, from: StreamPersistence.encoder.encode(state))
            precondition(again == state, "a stored state does not survive re-encoding")
            var s = StreamState(name: "fuzz", now: Date(timeIntervalSince1970: 0))
            state.apply(to: &s)
        }
        if let entry = try? StreamPersistence.decodeEntry(data) {
            _ = StreamPersistence.encode(entry)
        }
        _ = try? StreamPersistence.decodeWithDetails(data)
        _ = try? StreamPersistence.decodeBuckets(data)
    }
}
