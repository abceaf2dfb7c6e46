/// The keys of kohya sd-scripts' `.npz` latent caches.
///
/// Legacy files hold `latents`, `latents_flipped`, `original_size`,
/// `crop_ltrb` and `alpha_mask`; multi-resolution files suffix each with the
/// bucket's latent size `_{h}x{w}` and hold several buckets. Only the
/// latents are pushed; the sizes, crops and masks are metadata.
public enum KohyaCache {
    public enum Role: String, Equatable, Sendable, CaseIterable {
        case latents, latentsFlipped = "latents_flipped", originalSize = "original_size"
        case cropLTRB = "crop_ltrb", alphaMask = "alpha_mask"
    }

    /// A bucket in latent pixels, height first as in kohya's key suffix.
    public struct Bucket: Equatable, Sendable {
        public var height: Int
        public var width: Int

        public init(height: Int, width: Int) {
            self.height = height
            self.width = width
        }

        /// `{h}x{w}`, or with `imageSize` the image size `{8h}x{8w}`.
        public func tag(imageSize: Bool) -> String {
            imageSize ? "\(height * 8)x\(width * 8)" : "\(height)x\(width)"
        }
    }

    public struct Key: Equatable, Sendable {
        public var role: Role
        /// nil for a legacy key without a suffix.
        public var bucket: Bucket?
    }

    /// Parses `latents`, `latents_32x48`, `crop_ltrb_32x48`, …; nil for other names.
    public static func parse(key: String) -> Key? {
        for role in Role.allCases {
            if key == role.rawValue { return Key(role: role, bucket: nil) }
            guard key.hasPrefix(role.rawValue + "_") else { continue }
            let suffix = key.dropFirst(role.rawValue.count + 1)
            let parts = suffix.split(separator: "x", omittingEmptySubsequences: false)
            guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
                  let h = Int(parts[0]), let w = Int(parts[1]) else { continue }
            return Key(role: role, bucket: Bucket(height: h, width: w))
        }
        return nil
    }

    /// The arrays to push from a file with these keys, sorted: every
    /// `latents[_{h}x{w}]`, and the flipped ones when asked. Empty when the
    /// file has no kohya latents.
    public static func latentKeys(_ keys: [String], includeFlipped: Bool) -> [(name: String, key: Key)] {
        keys.sorted().compactMap { name in
            guard let key = parse(key: name) else { return nil }
            switch key.role {
            case .latents: return (name, key)
            case .latentsFlipped: return includeFlipped ? (name, key) : nil
            case .originalSize, .cropLTRB, .alphaMask: return nil
            }
        }
    }

    /// True when the file is recognisably kohya's: it has a size, crop or
    /// mask array, a bucket suffix, or kohya's file name.
    public static func isKohya(keys: [String], path: String) -> Bool {
        if CacheFileName(path: path) != nil { return true }
        return keys.contains { name in
            guard let key = parse(key: name) else { return false }
            return key.bucket != nil || key.role != .latents
        }
    }

    /// What `push` takes from an `.npz`: kohya's latents arrays, tagged with
    /// their buckets, or for another layout the one array `selectKey` picks.
    static func contents(of npz: NPZArchive, path: String, options: ReadOptions) throws(ReadError) -> CacheContents {
        let keys = npz.keys
        let kohya = isKohya(keys: keys, path: path)
        let layout: CacheLayout = kohya ? .kohya(arch: CacheFileName(path: path)?.arch) : .plain
        var chosen = latentKeys(keys, includeFlipped: options.includeFlipped).map(\.name)
        if let key = options.key {
            chosen = [try LatentArray.selectKey(available: keys, requested: key)]
        } else if chosen.isEmpty {
            chosen = [try LatentArray.selectKey(available: keys, requested: nil)]
        }
        var pieces: [LatentPiece] = []
        for name in chosen {
            let array = try npz.array(name)
            var tag: String?
            if let key = parse(key: name), key.role == .latents || key.role == .latentsFlipped {
                if let bucket = key.bucket {
                    tag = bucket.tag(imageSize: options.tagImageSize)
                } else if kohya, array.shape.count == 3 {
                    // A legacy key: the bucket is the array's own (C, h, w).
                    tag = Bucket(height: array.shape[1], width: array.shape[2]).tag(imageSize: options.tagImageSize)
                }
            }
            pieces.append(LatentPiece(array: array, key: name, tag: tag))
        }
        return CacheContents(layout: layout, pieces: pieces)
    }
}
