import Foundation
import Hummingbird
import LatentStats
import StreamModel
import NIOCore

extension APIRoutes {
    static let pushQueryKeys: Set<String> = ["dtype", "shape", "step", "tag", "channel_axis"]

    /// `POST /v1/streams/{name}/latents`: validate everything, summarize off the
    /// event loop, then apply in the stream's serial step.
    func push(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let started = ContinuousClock.now
        defer {
            let d = ContinuousClock.now - started
            metrics.recordPush(seconds: Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
        }
        let name = try StreamName.validate(context.parameters.get("name"))
        let q = request.uri.queryParameters
        for (key, _) in q where !Self.pushQueryKeys.contains(String(key)) {
            throw APIError.badRequest("invalid_query", "unknown query parameter '\(key)'; use dtype, shape, step, tag, channel_axis")
        }
        var meta = PushMeta()
        if let s = q.get("step") {
            guard let v = Int64(s) else { throw APIError.badRequest("invalid_query", "step '\(s)' is not an integer") }
            meta.step = v
        }
        if let t = q.get("tag") {
            guard t.utf8.count <= 256 else { throw APIError.badRequest("invalid_query", "tag is longer than 256 bytes") }
            meta.tag = t
        }
        var axisOverride: Int?
        if let a = q.get("channel_axis") {
            guard let v = Int(a) else { throw APIError.badRequest("invalid_channel_axis", "channel_axis '\(a)' is not an integer; use e.g. 1 for NCHW or -1 for NHWC") }
            axisOverride = v
        }
        let contentType = (request.headers[.contentType] ?? "application/octet-stream")
            .split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        let isNpy: Bool
        switch contentType {
        // curl's --data-binary sends application/x-www-form-urlencoded unless told otherwise;
        // with dtype= and shape= given, such a body can only be raw bytes.
        case "application/octet-stream", "": isNpy = false
        case "application/x-www-form-urlencoded" where q.get("dtype") != nil && q.get("shape") != nil: isNpy = false
        case "application/x-npy", "application/npy": isNpy = true
        default:
            throw APIError(.unsupportedMediaType, "unsupported_media_type", "Content-Type '\(contentType)' is not accepted; use application/octet-stream (with dtype= and shape=) or application/x-npy")
        }
        // Parse raw-body parameters before reading the body.
        var rawDType: DType?, rawShape: [Int]?
        if !isNpy {
            guard let d = q.get("dtype") else {
                throw APIError.badRequest("invalid_dtype", "missing dtype=; use one of float32, float16, bfloat16, float64 (or send an .npy with Content-Type application/x-npy)")
            }
            do { rawDType = try DType(parsing: d) } catch { throw APIError(error) }
            guard let s = q.get("shape") else {
                throw APIError.badRequest("invalid_shape", "missing shape=; give the dimensions comma-separated, e.g. shape=32,4,64,64")
            }
            rawShape = try Self.parseShape(s)
        }
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > maxBodyBytes {
            throw Self.tooLarge(maxBodyBytes)
        }
        var body = ByteBuffer()
        if let length = request.headers[.contentLength].flatMap({ Int($0) }) { body.reserveCapacity(length) }
        do { try await request.body.collect(upTo: maxBodyBytes, into: &body) } catch is NIOTooManyBytesError {
            throw Self.tooLarge(maxBodyBytes)
        }

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
        let frozenBody = body
        let offset = dataOffset
        let (ingested, outliers) = try await Task.detached(priority: .medium) {
            let r = try frozenBody.withUnsafeReadableBytes { raw in
                try BatchSummary.ingestSamples(bytes: UnsafeRawBufferPointer(rebasing: raw[offset...]), layout: layout,
                                               normalizer: normalizer, excludeNonfiniteSamples: excludeNonfinite)
            }
            // Judged against the window as it was when the push began.
            return (r, SampleOutliers.find(r.samples, windowMeans: reference.means, windowStds: reference.stds, config: reference.config))
        }.value
        let response = try await stream.apply(WindowEntry(summary: ingested.summary, clamp: ingested.clamp, referenceVersion: version),
                                              samples: ingested.samples, outliers: outliers, meta: meta, now: Date())
        return json(response)
    }

    static func parseShape(_ text: String) throws(APIError) -> [Int] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        var dims: [Int] = []
        for p in parts {
            guard let v = Int(p.trimmingCharacters(in: .whitespaces)) else {
                throw APIError.badRequest("invalid_shape", "shape '\(text)' is not a comma-separated list of integers, e.g. shape=32,4,64,64")
            }
            dims.append(v)
        }
        return dims
    }

    static func tooLarge(_ max: Int) -> APIError {
        APIError(.contentTooLarge, "body_too_large", "the body is larger than --max-body-bytes (\(max) bytes); push smaller batches, or start scaled with a larger --max-body-bytes")
    }
}
