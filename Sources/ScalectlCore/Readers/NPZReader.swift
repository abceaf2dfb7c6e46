import Foundation
import ZIPFoundation

/// Reads one array from a NumPy `.npz` archive (`np.savez` and
/// `np.savez_compressed`, as kohya-style latent caches are written).
public enum NPZReader {
    public static func read(_ data: Data, key requested: String?) throws(ReadError) -> LatentArray {
        let archive: Archive
        do {
            archive = try Archive(data: data, accessMode: .read)
        } catch {
            throw ReadError("not a NumPy .npz file (not a zip archive)")
        }
        var names: [String: Entry] = [:]
        for entry in archive where entry.type == .file && entry.path.hasSuffix(".npy") {
            names[String(entry.path.dropLast(4))] = entry
        }
        let key = try LatentArray.selectKey(available: Array(names.keys), requested: requested)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(names[key]!.uncompressedSize))
        do {
            _ = try archive.extract(names[key]!, skipCRC32: false) { chunk in bytes.append(contentsOf: chunk) }
        } catch {
            throw ReadError("cannot extract '\(key)' from the .npz: \(error)")
        }
        do {
            return try NPYReader.read(bytes)
        } catch {
            throw ReadError("'\(key)' in the .npz: \(error.message)")
        }
    }
}
