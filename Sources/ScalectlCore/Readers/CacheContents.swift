/// How `push` reads a cache file.
public struct ReadOptions: Equatable, Sendable {
    /// The one array to read in a multi-array file; nil picks by layout.
    public var key: String?
    /// Also push kohya's `latents_flipped*` arrays.
    public var includeFlipped = false
    /// Tag buckets with their image size (latent size × 8).
    public var tagImageSize = false

    public init(key: String? = nil, includeFlipped: Bool = false, tagImageSize: Bool = false) {
        self.key = key
        self.includeFlipped = includeFlipped
        self.tagImageSize = tagImageSize
    }
}

/// The trainer whose cache layout a file has, when it can be told.
public enum CacheLayout: Equatable, Sendable {
    case plain
    /// kohya sd-scripts; `arch` from the file name (`sd`, `sdxl`, `flux`, …).
    case kohya(arch: String?)
    /// musubi-tuner; `arch` from the file name or the `architecture` metadata.
    case musubi(arch: String?)
    /// A `torch.save` file per image, as SimpleTuner writes.
    case simpleTuner

    /// Caches these trainers write after the VAE's normalization was applied:
    /// SimpleTuner's, and kohya's FLUX caches (its FLUX autoencoder shifts and
    /// scales inside `encode`). nil when the cache holds raw VAE output, or
    /// when nothing is known.
    public var prescaledName: String? {
        switch self {
        case .simpleTuner: return "SimpleTuner"
        case .kohya(arch: "flux"): return "kohya FLUX"
        default: return nil
        }
    }
}

/// One array to push from a file.
public struct LatentPiece: Sendable {
    public var array: LatentArray
    /// The array's name in the file (nil for `.npy`).
    public var key: String?
    /// The bucket the layout puts it in (`32x48`, `1x60x104`).
    public var tag: String?
    /// The array is one sample whatever its number of axes (musubi-tuner's
    /// `(C,F,H,W)`, SimpleTuner's `(C,[F],H,W)`).
    public var isOneSample = false

    public init(array: LatentArray, key: String? = nil, tag: String? = nil, isOneSample: Bool = false) {
        self.array = array
        self.key = key
        self.tag = tag
        self.isOneSample = isOneSample
    }
}

/// What a file holds for `push`: its layout and the arrays to push, in order.
public struct CacheContents: Sendable {
    public var layout: CacheLayout
    public var pieces: [LatentPiece]
}
