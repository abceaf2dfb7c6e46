import Foundation
import Hummingbird
import LatentStats
import StreamModel
import NIOCore

extension APIRoutes {
    /// The pushes being summarized, sharing every core between them.
    static let ingestLoad = IngestLoad(cores: ProcessInfo.processInfo.activeProcessorCount)

    /// `POST /v1/streams/{name}/latents`: validate everything, summarize (on the
    /// shared executor, never the event loop), then apply in the stream's serial step.
    func push(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let started = ContinuousClock.now
        defer {
            let d = ContinuousClock.now - started
            metrics.recordPush(seconds: Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
        }
        let push = try PushRequest(name: context.parameters.get("name"), query: request.uri,
                                   contentType: request.headers[.contentType], contentLength: request.headers[.contentLength],
                                   maxBodyBytes: maxBodyBytes)
        try push.checkShape()   // before the body, as ExpectContinueHandler decides
        let (name, meta, axisOverride, isNpy, rawDType, rawShape) = (push.name, push.meta, push.axisOverride, push.isNpy, push.rawDType, push.rawShape)
        let body = try await Self.collectBody(request.body, limit: maxBodyBytes)

        let stream = await registry.getOrCreate(name)
        let channelAxis: Int
        if let axisOverride { channelAxis = axisOverride } else { channelAxis = await stream.state.config.channelAxis }
        let layout: TensorLayout
        var dataOffset = 0
        do {
            if isNpy {
                let header = try body.withUnsafeReadableBytes { try NpyHeader($0) }
                layout = try TensorLayout(shape: header.shape, dtype: header.dtype, channelAxis: channelAxis)
                dataOffset = header.dataOffset
                let available = body.readableBytes - dataOffset
                if available != layout.byteCount {
                    throw APIError.badRequest("invalid_npy", "the .npy data holds \(available) bytes but its header's shape \(header.shape) of \(header.dtype.rawValue) needs \(layout.byteCount); the file is truncated or damaged")
                }
            } else {
                layout = try TensorLayout(shape: rawShape!, dtype: rawDType!, channelAxis: channelAxis)
                try layout.checkLength(body.readableBytes)
            }
        } catch let e as TensorError {
            throw APIError(e)
        } catch let e as NpyHeader.Failure {
            throw APIError.badRequest(e.code, e.description)
        }
        let (normalizer, version) = try await stream.prepare(channels: layout.channels)
        let reference = await stream.outlierReference()
        let excludeNonfinite = reference.config.excludeNonfiniteSamples
        let pushed = PushBody(buffer: body)
        let offset = dataOffset
        // Route handlers run on the shared concurrent executor, not on the
        // event loop, so the summary is computed right here (a detached task
        // only added a thread hand-off). Split over this push's share of the
        // cores when the tensor is large enough (BatchSummary.concurrentChunkMinElements).
        let ingested = try await Self.ingestLoad.withShare { share in
            try await BatchSummary.ingestSamples(pushed, offset: offset, layout: layout, normalizer: normalizer,
                                                 excludeNonfiniteSamples: excludeNonfinite, concurrency: share)
        }
        // Judged against the window as it was when the push began.
        let outliers = SampleOutliers.find(ingested.samples, windowMeans: reference.means, windowStds: reference.stds, sorted: reference.sorted,
                                           config: reference.config)
        let response = try await stream.apply(WindowEntry(summary: ingested.summary, clamp: ingested.clamp, referenceVersion: version),
                                              samples: ingested.samples, outliers: outliers, meta: meta, now: Date())
        return json(response)
    }

    /// The body's bytes. A body that arrives as one part (``BodyCoalescingHandler``
    /// gathers those with a `Content-Length`) is taken as it is, without a copy.
    static func collectBody(_ parts: RequestBody, limit: Int) async throws -> ByteBuffer {
        var body: ByteBuffer?
        for try await var part in parts {
            guard (body?.readableBytes ?? 0) + part.readableBytes <= limit else { throw PushRequest.tooLarge(limit) }
            if body == nil { body = part } else { body!.writeBuffer(&part) }
        }
        return body ?? ByteBuffer()
    }
}
