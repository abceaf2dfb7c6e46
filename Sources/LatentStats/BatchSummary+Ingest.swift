import CBLAS

extension BatchSummary {
    /// Summarizes one C-contiguous little-endian tensor.
    ///
    /// - Parameters:
    ///   - bytes: the tensor's raw bytes; any alignment.
    ///   - layout: its validated geometry; `bytes.count` must equal `layout.byteCount`.
    ///   - normalizer: when given, the normalized values are also counted
    ///     against its range (see ``ClampCount``).
    /// - Returns: the summary and, with a normalizer, the clamp count.
    public static func ingest(
        bytes: UnsafeRawBufferPointer, layout: TensorLayout, normalizer: AffineNormalizer? = nil
    ) throws(TensorError) -> (BatchSummary, ClampCount?) {
        let r = try ingestSamples(bytes: bytes, layout: layout, normalizer: normalizer)
        return (r.summary, r.clamp)
    }

    /// Like ``ingest(bytes:layout:normalizer:)``, also returning each
    /// sample's own mean, std and non-finite count (for the outlier check).
    ///
    /// With `excludeNonfiniteSamples`, a sample holding any NaN or ±inf
    /// leaves the summary entirely (its samples, elements, non-finite
    /// counts, moments, sketch and clamp count); it is still listed in
    /// `samples` with `excluded` set.
    public static func ingestSamples(
        bytes: UnsafeRawBufferPointer, layout: TensorLayout, normalizer: AffineNormalizer? = nil,
        excludeNonfiniteSamples: Bool = false
    ) throws(TensorError) -> IngestResult {
        try layout.checkLength(bytes.count)
        if let n = normalizer { precondition(n.channels == layout.channels, "normalizer channel count differs") }
        return summarize(bytes, layout: layout, normalizer: normalizer, excludeNonfinite: excludeNonfiniteSamples)
    }

    /// The serial kernel over a tensor whose length was checked.
    static func summarize(_ bytes: UnsafeRawBufferPointer, layout: TensorLayout, normalizer: AffineNormalizer?,
                          excludeNonfinite: Bool, histogram: Bool? = nil, simd: Bool? = nil) -> IngestResult {
        BLASSetup.once()
        var kernel = IngestKernel(layout: layout, normalizer: normalizer, histogram: histogram, simd: simd)
        kernel.excludeNonfinite = excludeNonfinite
        if let base = bytes.baseAddress { kernel.run(base) }
        let (s, c) = kernel.finish()
        return IngestResult(summary: s, clamp: c, samples: kernel.sampleStats)
    }

    /// ``ingestSamples(bytes:layout:normalizer:excludeNonfiniteSamples:)`` over an array of Doubles.
    public static func samplesOf(_ values: [Double], shape: [Int], channelAxis: Int = 1, normalizer: AffineNormalizer? = nil,
                                 excludeNonfiniteSamples: Bool = false) throws(TensorError) -> IngestResult {
        let layout = try TensorLayout(shape: shape, dtype: .float64, channelAxis: channelAxis)
        do {
            return try values.withUnsafeBytes {
                try ingestSamples(bytes: $0, layout: layout, normalizer: normalizer, excludeNonfiniteSamples: excludeNonfiniteSamples)
            }
        } catch let e as TensorError { throw e } catch { fatalError("unreachable") }
    }

    /// Convenience for tests and tools: summarizes an array of Doubles of the given shape.
    public static func of(_ values: [Double], shape: [Int], channelAxis: Int = 1,
                          normalizer: AffineNormalizer? = nil) throws(TensorError) -> (BatchSummary, ClampCount?) {
        let layout = try TensorLayout(shape: shape, dtype: .float64, channelAxis: channelAxis)
        do {
            return try values.withUnsafeBytes { try ingest(bytes: $0, layout: layout, normalizer: normalizer) }
        } catch let e as TensorError { throw e } catch { fatalError("unreachable") }
    }
}

enum BLASSetup {
    /// One thread: the matrices are small, and pushes (and the chunks of one
    /// push) are already spread over the cores.
    static let token: Void = { openblas_set_num_threads(1) }()
    static func once() { _ = token }
}
