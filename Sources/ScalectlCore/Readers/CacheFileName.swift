/// The name kohya sd-scripts and musubi-tuner give a cache file:
/// `{stem}_{W:04d}x{H:04d}_{arch}.npz` (or `.safetensors`), W and H the
/// bucket's image size and `arch` the model family (`sd`, `sdxl`, `sd3`,
/// `flux`, `hv`, `wan`, …).
public struct CacheFileName: Equatable, Sendable {
    public var stem: String
    public var width: Int
    public var height: Int
    public var arch: String

    /// Parses the last path component of `path`; nil when it is not of that form.
    public init?(path: String) {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: ".") else { return nil }
        let parts = name[..<dot].split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count >= 3 else { return nil }
        let arch = parts[parts.count - 1], size = parts[parts.count - 2]
        guard !arch.isEmpty, arch.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else { return nil }
        let wh = size.split(separator: "x", omittingEmptySubsequences: false)
        guard wh.count == 2, wh.allSatisfy({ $0.count >= 4 && $0.allSatisfy(\.isASCII) }),
              let w = Int(wh[0]), let h = Int(wh[1]), w > 0, h > 0 else { return nil }
        let stem = parts[..<(parts.count - 2)].joined(separator: "_")
        guard !stem.isEmpty else { return nil }
        self.stem = stem
        self.width = w
        self.height = h
        self.arch = String(arch)
    }
}
