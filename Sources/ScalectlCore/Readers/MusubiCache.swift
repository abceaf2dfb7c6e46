/// The latent keys of musubi-tuner's `.safetensors` caches:
/// `latents_{F}x{H}x{W}_{dtype}` (e.g. `latents_1x60x104_bf16`), one tensor
/// `(C, F, H, W)` per key and one sample per tensor. Other keys
/// (`latents_image_…`, `clip_…`) are conditioning, not the latents trained on.
public enum MusubiCache {
    public struct Key: Equatable, Sendable {
        public var frames: Int
        public var height: Int
        public var width: Int
        public var dtype: String

        /// `{F}x{H}x{W}`, or with `imageSize` `{F}x{8H}x{8W}` (frames stay latent frames).
        public func tag(imageSize: Bool) -> String {
            imageSize ? "\(frames)x\(height * 8)x\(width * 8)" : "\(frames)x\(height)x\(width)"
        }
    }

    public static func parse(key: String) -> Key? {
        guard key.hasPrefix("latents_") else { return nil }
        let parts = key.dropFirst("latents_".count).split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[1].isEmpty, parts[1].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
            return nil
        }
        let dims = parts[0].split(separator: "x", omittingEmptySubsequences: false)
        guard dims.count == 3, dims.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }) else { return nil }
        guard let f = Int(dims[0]), let h = Int(dims[1]), let w = Int(dims[2]) else { return nil }
        return Key(frames: f, height: h, width: w, dtype: String(parts[1]))
    }

    /// The latent keys among `keys`, sorted.
    public static func latentKeys(_ keys: [String]) -> [(name: String, key: Key)] {
        keys.sorted().compactMap { name in parse(key: name).map { (name, $0) } }
    }

    /// What `push` takes from a `.safetensors`: musubi-tuner's latents keys,
    /// one sample each, or for another layout (ai-toolkit's `latent`) the one
    /// array `selectKey` picks.
    static func contents(of file: SafetensorsFile, path: String, options: ReadOptions) throws(ReadError) -> CacheContents {
        let keys = file.keys
        var chosen = latentKeys(keys).map(\.name)
        let musubi = !chosen.isEmpty
        if let key = options.key {
            chosen = [try LatentArray.selectKey(available: keys, requested: key)]
        } else if chosen.isEmpty {
            chosen = [try LatentArray.selectKey(available: keys, requested: nil)]
        }
        var pieces: [LatentPiece] = []
        for name in chosen {
            let array = try file.array(name)
            if let key = parse(key: name) {
                pieces.append(LatentPiece(array: array, key: name, tag: key.tag(imageSize: options.tagImageSize), isOneSample: true))
            } else {
                pieces.append(LatentPiece(array: array, key: name))
            }
        }
        let arch = file.metadata["architecture"] ?? CacheFileName(path: path)?.arch
        return CacheContents(layout: musubi ? .musubi(arch: arch) : .plain, pieces: pieces)
    }
}
