import Foundation
import ZIPFoundation

/// A NumPy `.npz` archive (`np.savez` and `np.savez_compressed`, as kohya
/// caches latents): its array names, and each array read on demand.
public struct NPZArchive {
    private let archive: Archive
    private let entries: [String: Entry]

    public init(_ data: Data) throws(ReadError) {
        do {
            archive = try Archive(data: data, accessMode: .read)
        } catch {
            throw ReadError("not a NumPy .npz file (not a zip archive)")
        }
        var entries: [String: Entry] = [:]
        for entry in archive where entry.type == .file && entry.path.hasSuffix(".npy") {
            entries[String(entry.path.dropLast(4))] = entry
        }
        self.entries = entries
    }

    /// The array names, sorted.
    public var keys: [String] { entries.keys.sorted() }

    public func array(_ key: String) throws(ReadError) -> LatentArray {
        guard let entry = entries[key] else {
            throw ReadError("no array named '\(key)' (it has: \(keys.joined(separator: ", ")))")
        }
        let bytes: [UInt8]
        do { bytes = try archive.bytes(of: entry) } catch {
            throw ReadError("cannot extract '\(key)' from the .npz: \(error.message)")
        }
        do {
            return try NPYReader.read(bytes)
        } catch {
            throw ReadError("'\(key)' in the .npz: \(error.message)")
        }
    }
}
