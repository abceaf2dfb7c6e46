import Foundation
import NIOCore

/// A push's collected body as the bytes a concurrent ingest reads: each
/// chunk's task reads it in place through `withUnsafeBytes` (no copy; a
/// `ByteBuffer` is an immutable value once collected).
struct PushBody: ContiguousBytes, Sendable {
    let buffer: ByteBuffer

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try buffer.withUnsafeReadableBytes(body)
    }
}
