import Hummingbird
import HummingbirdCore
import LatentStats

/// What a push's request line and headers decide, before its body is read:
/// the stream name, the query, the body's form and its declared length.
///
/// The route uses it, and so does ``ExpectContinueHandler``, which answers a
/// 4xx instead of `100 Continue` when this already fails.
struct PushRequest: Sendable {
    static let queryKeys: Set<String> = ["dtype", "shape", "step", "tag", "channel_axis"]

    var name: String
    var meta = PushMeta()
    var axisOverride: Int?
    var isNpy: Bool
    var rawDType: DType?
    var rawShape: [Int]?
    var contentLength: Int?

    init(name: String?, query: URI, contentType: String?, contentLength: String?, maxBodyBytes: Int) throws(APIError) {
        self.name = try StreamName.validate(name)
        let q = query.queryParameters
        for (key, _) in q where !Self.queryKeys.contains(String(key)) {
            throw APIError.badRequest("invalid_query", "unknown query parameter '\(key)'; use dtype, shape, step, tag, channel_axis")
        }
        if let s = q.get("step") {
            guard let v = Int64(s) else { throw APIError.badRequest("invalid_query", "step '\(s)' is not an integer") }
            meta.step = v
        }
        if let t = q.get("tag") {
            guard t.utf8.count <= 256 else { throw APIError.badRequest("invalid_query", "tag is longer than 256 bytes") }
            meta.tag = t
        }
        if let a = q.get("channel_axis") {
            guard let v = Int(a) else { throw APIError.badRequest("invalid_channel_axis", "channel_axis '\(a)' is not an integer; use e.g. 1 for NCHW or -1 for NHWC") }
            axisOverride = v
        }
        let type = (contentType ?? "application/octet-stream")
            .split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        switch type {
        // curl's --data-binary sends application/x-www-form-urlencoded unless told otherwise;
        // with dtype= and shape= given, such a body can only be raw bytes.
        case "application/octet-stream", "": isNpy = false
        case "application/x-www-form-urlencoded" where q.get("dtype") != nil && q.get("shape") != nil: isNpy = false
        case "application/x-npy", "application/npy": isNpy = true
        default:
            throw APIError(.unsupportedMediaType, "unsupported_media_type", "Content-Type '\(type)' is not accepted; use application/octet-stream (with dtype= and shape=) or application/x-npy")
        }
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
        if let text = contentLength {
            guard let length = Int(text), length >= 0 else {
                throw APIError.badRequest("invalid_body", "Content-Length '\(text)' is not a number of bytes")
            }
            guard length <= maxBodyBytes else { throw Self.tooLarge(maxBodyBytes) }
            self.contentLength = length
        }
    }

    /// The checks of the raw shape that do not depend on the stream's channel axis.
    func checkShape() throws(APIError) {
        guard let rawShape, let rawDType else { return }
        do { _ = try TensorLayout(shape: rawShape, dtype: rawDType, channelAxis: rawShape.count >= 2 ? 1 : 0) } catch {
            if case .channelAxisIsSampleAxis = error { return }
            throw APIError(error)
        }
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
