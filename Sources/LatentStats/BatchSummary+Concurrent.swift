import Foundation

extension BatchSummary {
    /// The fewest elements a chunk of a concurrent ingest holds: below it, a
    /// chunk's fixed costs (the scan of its two 65,536-entry sketch tables,
    /// a task, the merge) outweigh what another core saves. Measured with
    /// `scalebench --crossover` on 2 cores: two chunks of 4,096 elements
    /// ran at 0.82× the serial speed, of 16,384 at 1.06×, of 131,072 at
    /// 1.52× (bench/README.md).
    public static let concurrentChunkMinElements = 1 << 14

    /// ``ingestSamples(bytes:layout:normalizer:excludeNonfiniteSamples:)`` on
    /// up to `concurrency` cores: the samples are split into contiguous
    /// chunks, summarized by a task group, and merged in order.
    ///
    /// The merge is exact, so the result equals the serial one up to float
    /// rounding (about 10⁻¹⁵ relative); counts, extremes and both sketches
    /// are identical. A tensor of one sample, or too small for two chunks of
    /// ``concurrentChunkMinElements``, is summarized serially.
    ///
    /// - Parameters:
    ///   - bytes: the tensor (from `offset` on); each chunk reads it through
    ///     `withUnsafeBytes`, so it must not change until this returns.
    ///   - concurrency: the most chunks to run at once (say, the core count).
    ///   - minChunkElements: the fewest elements per chunk (benchmarks vary it to find the crossover).
    public static func ingestSamples<Bytes: ContiguousBytes & Sendable>(
        _ bytes: Bytes, offset: Int = 0, layout: TensorLayout, normalizer: AffineNormalizer? = nil,
        excludeNonfiniteSamples: Bool = false, concurrency: Int, minChunkElements: Int = concurrentChunkMinElements
    ) async throws(TensorError) -> IngestResult {
        let length = bytes.withUnsafeBytes { $0.count - offset }
        try layout.checkLength(length)
        if let n = normalizer { precondition(n.channels == layout.channels, "normalizer channel count differs") }
        let chunks = chunkCount(layout: layout, concurrency: concurrency, minChunkElements: minChunkElements)
        if chunks <= 1 {
            return bytes.withUnsafeBytes { raw in
                summarize(UnsafeRawBufferPointer(rebasing: raw[offset...]), layout: layout, normalizer: normalizer,
                          excludeNonfinite: excludeNonfiniteSamples)
            }
        }
        // Chunk i holds samples [bounds[i], bounds[i+1]).
        let bounds = (0...chunks).map { $0 * layout.samples / chunks }
        let sampleBytes = layout.elementsPerSample * layout.dtype.size
        @Sendable func chunk(_ i: Int) -> IngestResult {
            var shape = layout.shape
            shape[0] = bounds[i + 1] - bounds[i]
            // Same geometry with fewer samples: cannot fail.
            let part = try! TensorLayout(shape: shape, dtype: layout.dtype, channelAxis: layout.channelAxis)
            return bytes.withUnsafeBytes { raw in
                let start = offset + bounds[i] * sampleBytes
                return summarize(UnsafeRawBufferPointer(rebasing: raw[start..<(start + part.byteCount)]), layout: part,
                                 normalizer: normalizer, excludeNonfinite: excludeNonfiniteSamples)
            }
        }
        // The first chunk runs in this task while the others run in child
        // tasks: one thread fewer to wake per push.
        let parts = await withTaskGroup(of: (Int, IngestResult).self) { group in
            for i in 1..<chunks { group.addTask { (i, chunk(i)) } }
            var parts = [IngestResult?](repeating: nil, count: chunks)
            parts[0] = chunk(0)
            for await (i, r) in group { parts[i] = r }
            return parts.map { $0! }
        }
        var out = parts[0]
        out.samples.reserveCapacity(layout.samples)
        for p in parts.dropFirst() {
            out.summary.merge(p.summary)
            if let c = p.clamp { out.clamp!.merge(c) }
            out.samples += p.samples
        }
        out.summary.batches = 1
        return out
    }

    /// How many chunks a concurrent ingest of `layout` uses.
    static func chunkCount(layout: TensorLayout, concurrency: Int, minChunkElements: Int = concurrentChunkMinElements) -> Int {
        let bySize = layout.elementCount / Swift.max(minChunkElements, 1)
        return Swift.max(1, Swift.min(concurrency, layout.samples, bySize))
    }
}
