import Foundation

/// Groups arrays of the same dtype, per-sample shape and tag into requests
/// of at most `limit` bytes, concatenating along the sample axis.
///
/// One request per file would make a folder of 64 KiB kohya caches cost one
/// round trip each; batching keeps the daemon's per-request cost off the
/// total, and the limit keeps memory and request size bounded.
public struct PushBatcher {
    public struct Batch: Sendable {
        public var dtype: DType
        /// `[N, ...]`, N the number of samples in the batch.
        public var shape: [Int]
        public var bytes: [UInt8]
        /// The tag every sample in the batch carries (one per request).
        public var tag: String?
        /// The files whose samples are in the batch (a large file split over
        /// several batches appears in each).
        public var files: [String]
        /// The files in sample order with how many consecutive samples each
        /// holds: what maps a sample index in the push answer back to its file.
        public var spans: [FileSpan] = []

        public var samples: Int { shape.first ?? 0 }

        /// The file holding sample `index` of the batch.
        public func file(ofSample index: Int) -> String? {
            var start = 0
            for s in spans {
                if index < start + s.samples { return index >= start ? s.file : nil }
                start += s.samples
            }
            return nil
        }
    }

    /// Consecutive samples of one file within a batch.
    public struct FileSpan: Sendable, Equatable {
        public var file: String
        public var samples: Int
    }

    struct Key: Hashable {
        var dtype: DType
        var sampleShape: [Int]
        var tag: String?
    }

    public var limit: Int
    /// One slot per dtype, sample shape and tag, in order of first appearance;
    /// batches are mutated in place (through the array) so that appending a
    /// file does not copy the bytes gathered so far.
    private var slots: [Batch?] = []
    private var slotOf: [Key: Int] = [:]

    public init(limit: Int) { self.limit = max(1, limit) }

    /// Adds a sample-first array pushed with `tag`; returns the batches that are full.
    public mutating func add(_ array: LatentArray, tag: String? = nil, file: String) -> [Batch] {
        var ready: [Batch] = []
        let key = Key(dtype: array.dtype, sampleShape: Array(array.shape.dropFirst()), tag: tag)
        let n = array.shape.first ?? 0
        guard n > 0 else { return [] }
        let perSample = array.bytes.count / n
        let i: Int
        if let existing = slotOf[key] {
            i = existing
        } else {
            i = slots.count
            slots.append(nil)
            slotOf[key] = i
        }
        if let current = slots[i], current.bytes.count + array.bytes.count > limit {
            ready.append(current)
            slots[i] = nil
        }
        // An array larger than the limit is split along the sample axis.
        let perChunk = max(1, limit / max(perSample, 1))
        var start = 0
        while start < n {
            let count = min(perChunk, n - start)
            let slice = array.bytes[(start * perSample)..<((start + count) * perSample)]
            if slots[i] == nil {
                var bytes: [UInt8] = []
                bytes.reserveCapacity(min(limit, max(slice.count, perSample * perChunk)))
                bytes.append(contentsOf: slice)
                slots[i] = Batch(dtype: array.dtype, shape: [count] + key.sampleShape, bytes: bytes, tag: tag, files: [file],
                                 spans: [FileSpan(file: file, samples: count)])
            } else {
                slots[i]!.bytes.append(contentsOf: slice)
                slots[i]!.shape[0] += count
                if slots[i]!.files.last != file { slots[i]!.files.append(file) }
                if slots[i]!.spans.last?.file == file { slots[i]!.spans[slots[i]!.spans.count - 1].samples += count } else {
                    slots[i]!.spans.append(FileSpan(file: file, samples: count))
                }
            }
            if slots[i]!.bytes.count + perSample > limit {
                ready.append(slots[i]!)
                slots[i] = nil
            }
            start += count
        }
        return ready
    }

    /// Everything still pending, oldest group first.
    public mutating func flush() -> [Batch] {
        let ready = slots.compactMap { $0 }
        slots = []
        slotOf = [:]
        return ready
    }

    /// Splits a batch in two along the sample axis (after the daemon refused
    /// it as too large).
    public static func halve(_ batch: Batch) -> [Batch] {
        let n = batch.samples
        guard n > 1 else { return [batch] }
        let perSample = batch.bytes.count / n
        let first = n / 2
        var a = batch, b = batch
        a.shape[0] = first
        a.bytes = Array(batch.bytes[0..<(first * perSample)])
        b.shape[0] = n - first
        b.bytes = Array(batch.bytes[(first * perSample)...])
        if !batch.spans.isEmpty {
            (a.spans, b.spans) = splitSpans(batch.spans, at: first)
            a.files = uniqueFiles(a.spans)
            b.files = uniqueFiles(b.spans)
        }
        return [a, b]
    }

    static func splitSpans(_ spans: [FileSpan], at n: Int) -> ([FileSpan], [FileSpan]) {
        var head: [FileSpan] = [], tail: [FileSpan] = [], seen = 0
        for s in spans {
            if seen >= n { tail.append(s) } else if seen + s.samples <= n { head.append(s) } else {
                head.append(FileSpan(file: s.file, samples: n - seen))
                tail.append(FileSpan(file: s.file, samples: s.samples - (n - seen)))
            }
            seen += s.samples
        }
        return (head, tail)
    }

    static func uniqueFiles(_ spans: [FileSpan]) -> [String] {
        var out: [String] = []
        for s in spans where out.last != s.file { out.append(s.file) }
        return out
    }
}

/// A byte count given on the command line: `1048576`, `64k`, `32M`, `1G`
/// (binary multiples).
public struct ByteSize: Sendable, Equatable {
    public var bytes: Int

    public init?(_ text: String) {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard let last = t.last else { return nil }
        var multiplier = 1
        var digits = Substring(t)
        switch last {
        case "k", "K": multiplier = 1 << 10
        case "m", "M": multiplier = 1 << 20
        case "g", "G": multiplier = 1 << 30
        default: break
        }
        if multiplier != 1 { digits = digits.dropLast() }
        if digits.hasSuffix("i") || digits.hasSuffix("B") { return nil }
        guard let value = Int(digits), value > 0 else { return nil }
        let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { return nil }
        bytes = product
    }
}
