import Foundation
import LatentStats

/// The normalization a training job applies, in diffusers' semantics.
public enum Reference: Sendable, Equatable {
    /// `(z - shift_factor) * scaling_factor`.
    case scalar(scalingFactor: Double, shiftFactor: Double)
    /// `(z - latents_mean) * scaling_factor / latents_std`.
    case perChannel(latentsMean: [Double], latentsStd: [Double], scalingFactor: Double)

    /// The affine map for a tensor of `channels` channels, or nil when the
    /// per-channel lists do not have that length.
    public func normalizer(channels: Int, range: Double) -> AffineNormalizer? {
        switch self {
        case let .scalar(f, s):
            return AffineNormalizer(channels: channels, scalingFactor: f, shiftFactor: s, range: range)
        case let .perChannel(m, sd, f):
            guard m.count == channels else { return nil }
            return AffineNormalizer(latentsMean: m, latentsStd: sd, scalingFactor: f, range: range)
        }
    }

    /// The channel count a per-channel reference fixes; nil for a scalar one.
    public var channelCount: Int? {
        if case .perChannel(let m, _, _) = self { return m.count }
        return nil
    }
}
