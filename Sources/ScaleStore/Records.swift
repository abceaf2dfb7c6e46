import Foundation
import StreamModel

/// A stream's row: its configuration and the small state that must survive a
/// reset of its statistics (for example a frozen reference).
///
/// Both blobs are opaque to the store; the caller encodes them (as JSON).
public struct StreamRecord: Sendable, Equatable, Codable {
    /// The stream name, unique in the database.
    public var name: String
    /// The stream configuration, encoded by the caller (JSON).
    public var config: Data
    /// Caller-defined state such as the reference normalization (JSON).
    public var state: Data
    /// When the stream was first stored. Upserts keep the stored value.
    public var createdAt: Date
    /// When the stream was last changed.
    public var updatedAt: Date

    public init(name: String, config: Data, state: Data, createdAt: Date, updatedAt: Date) {
        self.name = name
        self.config = config
        self.state = state
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A change to an existing stream's row that leaves its config alone: the
/// new `state` blob and `updatedAt`. What a push writes besides its journal
/// row, so that a push does not rewrite the config.
public struct StreamStateUpdate: Sendable, Equatable {
    public var name: String
    public var state: Data
    public var updatedAt: Date

    public init(name: String, state: Data, updatedAt: Date) {
        self.name = name; self.state = state; self.updatedAt = updatedAt
    }
}

/// One journal row: one accepted batch of a stream.
///
/// The journal makes a push durable and serves `history`. The scalar columns
/// stay forever; `summary` (the batch's encoded statistics) is dropped once a
/// snapshot covers the batch and it has left the rolling window.
///
/// SQLite stores a NaN `Double` as NULL, so a NaN scalar reads back as `nil`.
public struct JournalEntry: Sendable, Equatable, Codable {
    /// The stream the batch belongs to.
    public var stream: String
    /// The batch's position in the stream: 1, 2, 3, … with no gaps.
    public var seq: Int64
    /// The training step the caller reported, if any.
    public var step: Int64?
    /// A free label such as a resolution bucket, if any.
    public var tag: String?
    /// When the batch was accepted.
    public var time: Date
    /// Number of samples (axis 0) in the batch.
    public var samples: Int
    /// Number of elements in the batch, finite or not.
    public var elements: Int
    /// Number of NaN and infinite elements in the batch.
    public var nonfinite: Int
    /// Mean of the batch's finite elements.
    public var mean: Double?
    /// Population standard deviation of the batch's finite elements.
    public var std: Double?
    /// Standard deviation after applying the reference normalization.
    public var normalizedStd: Double?
    /// Share of normalized elements a scheduler's clamp would cut off.
    public var clampFraction: Double?
    /// The encoded batch summary; `nil` once pruned by a snapshot, and in `history`.
    public var summary: Data?

    public init(
        stream: String, seq: Int64, step: Int64? = nil, tag: String? = nil, time: Date,
        samples: Int, elements: Int, nonfinite: Int,
        mean: Double? = nil, std: Double? = nil, normalizedStd: Double? = nil,
        clampFraction: Double? = nil, summary: Data? = nil
    ) {
        self.stream = stream
        self.seq = seq
        self.step = step
        self.tag = tag
        self.time = time
        self.samples = samples
        self.elements = elements
        self.nonfinite = nonfinite
        self.mean = mean
        self.std = std
        self.normalizedStd = normalizedStd
        self.clampFraction = clampFraction
        self.summary = summary
    }
}

/// A stream's statistics as of one journal entry, so that a restart replays
/// only the journal entries after it.
public struct Snapshot: Sendable, Equatable, Codable {
    /// The stream the snapshot belongs to.
    public var stream: String
    /// The last journal `seq` included in `state` (0 for an empty stream).
    public var seq: Int64
    /// When the snapshot was taken.
    public var time: Date
    /// The encoded stream statistics.
    public var state: Data

    public init(stream: String, seq: Int64, time: Date, state: Data) {
        self.stream = stream
        self.seq = seq
        self.time = time
        self.state = state
    }
}

/// Another node's latest summary of a stream (`scope=global`).
public struct PeerRecord: Sendable, Equatable, Codable {
    /// The stream it contributes to.
    public var stream: String
    /// The peer's name, unique within the stream.
    public var peer: String
    /// The peer's encoded summary, opaque to the store.
    public var summary: Data
    /// When it was last replaced.
    public var updatedAt: Date

    public init(stream: String, peer: String, summary: Data, updatedAt: Date) {
        self.stream = stream; self.peer = peer; self.summary = summary; self.updatedAt = updatedAt
    }
}

/// One change of an alert's state for one (stream, kind).
public struct AlertTransition: Sendable, Equatable, Codable {
    /// The stream the alert is about.
    public var stream: String
    /// The alert kind, such as `variance_drift`.
    public var kind: AlertKind
    /// `pending`, `firing` or `resolved`.
    public var state: AlertState
    /// When the condition became true.
    public var since: Date
    /// When the condition became false again, for a resolved alert.
    public var resolvedAt: Date?
    /// A human-readable explanation.
    public var message: String
    /// The value that was compared against the threshold, if any.
    public var value: Double?
    /// The severity, such as `warning` or `critical`.
    public var severity: AlertSeverity
    /// When this transition happened.
    public var at: Date

    public init(
        stream: String, kind: AlertKind, state: AlertState, since: Date, resolvedAt: Date? = nil,
        message: String, value: Double? = nil, severity: AlertSeverity, at: Date
    ) {
        self.stream = stream
        self.kind = kind
        self.state = state
        self.since = since
        self.resolvedAt = resolvedAt
        self.message = message
        self.value = value
        self.severity = severity
        self.at = at
    }
}

/// The durability settings of the connection that writes.
public struct DurabilitySettings: Sendable, Equatable {
    /// `PRAGMA journal_mode`: `wal` for a file database.
    public var journalMode: String
    /// `PRAGMA synchronous`: 2 (FULL) for a file database.
    public var synchronous: Int
}
