import Foundation

/// The file formats `push` reads, told apart by extension.
public enum LatentFileFormat: String, Sendable, CaseIterable {
    case npy, npz, safetensors, pt

    public init?(path: String) {
        let ext = (path as NSString).pathExtension.lowercased()
        self.init(rawValue: ext)
    }
}

public enum LatentFile {
    /// Reads the arrays to push from one file, following the layout of the
    /// trainer that wrote it (kohya `.npz`, musubi-tuner `.safetensors`,
    /// SimpleTuner `.pt`); `options.key` picks one array instead.
    public static func read(path: String, options: ReadOptions = ReadOptions()) throws(ReadError) -> CacheContents {
        guard let format = LatentFileFormat(path: path) else {
            throw ReadError("not a .npy, .npz, .safetensors or .pt file")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
        } catch {
            throw ReadError(describe(error))
        }
        switch format {
        case .npy:
            return CacheContents(layout: .plain, pieces: [LatentPiece(array: try NPYReader.read(Array(data)))])
        case .npz:
            return try KohyaCache.contents(of: NPZArchive(data), path: path, options: options)
        case .safetensors:
            return try MusubiCache.contents(of: SafetensorsFile(Array(data)), path: path, options: options)
        case .pt:
            let array = try TorchSaveReader.read(data, key: options.key)
            return CacheContents(layout: .simpleTuner, pieces: [LatentPiece(array: array, key: options.key, isOneSample: true)])
        }
    }

    /// Expands `paths` into the latent files to push: files as given (any
    /// extension, so a typo is reported rather than skipped), directories
    /// walked recursively for `.npy`, `.npz`, `.safetensors` and `.pt`, in sorted
    /// order so that runs are reproducible.
    public static func expand(_ paths: [String]) -> (files: [String], missing: [String]) {
        var files: [String] = []
        var missing: [String] = []
        let fm = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else {
                missing.append(path)
                continue
            }
            guard isDirectory.boolValue else {
                files.append(path)
                continue
            }
            let root = URL(fileURLWithPath: path)
            guard let walker = fm.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) else {
                missing.append(path)
                continue
            }
            var found: [String] = []
            for case let url as URL in walker where LatentFileFormat(path: url.path) != nil {
                if (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
                    found.append(path.hasSuffix("/") ? path + relative(url, to: root) : path + "/" + relative(url, to: root))
                }
            }
            files.append(contentsOf: found.sorted())
        }
        return (files, missing)
    }

    private static func relative(_ url: URL, to root: URL) -> String {
        let full = url.standardizedFileURL.path
        let base = root.standardizedFileURL.path
        return full.hasPrefix(base + "/") ? String(full.dropFirst(base.count + 1)) : url.lastPathComponent
    }

    static func describe(_ error: any Error) -> String {
        let ns = error as NSError
        if let posix = ns.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(posix.code)))
        }
        switch ns.code {
        case NSFileReadNoSuchFileError: return "no such file"
        case NSFileReadNoPermissionError: return "permission denied"
        default: return ns.localizedDescription
        }
    }
}
