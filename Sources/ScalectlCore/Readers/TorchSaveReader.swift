import Foundation
import ZIPFoundation

/// Reads a tensor from a `torch.save` file in the zip format (PyTorch 1.6
/// and later), as SimpleTuner caches latents: `{archive}/data.pkl` holds the
/// pickled object, `{archive}/data/{key}` each storage's raw bytes. The
/// pickle is read with `RestrictedUnpickler`, which runs nothing.
public enum TorchSaveReader {
    public static func read(_ data: Data, key requested: String?) throws(ReadError) -> LatentArray {
        let archive = try open(data)
        let prefix = try archivePrefix(archive)
        guard let pickleEntry = archive[prefix + "data.pkl"] else { throw ReadError("no \(prefix)data.pkl in the archive") }
        // A latent file's pickle is a few hundred bytes; a huge one is not a cache.
        guard pickleEntry.uncompressedSize <= 64 << 20 else {
            throw ReadError("\(prefix)data.pkl is \(pickleEntry.uncompressedSize) bytes; a torch.save of latents holds a small pickle")
        }
        let pickle = try archive.bytes(of: pickleEntry)
        let value = try RestrictedUnpickler.load(pickle)
        let tensor = try selectTensor(value, key: requested)
        let storage = tensor.storage
        guard let storageEntry = archive[prefix + "data/" + storage.key] else {
            throw ReadError("storage '\(storage.key)' is missing from the archive (no \(prefix)data/\(storage.key))")
        }
        var bytes = try archive.bytes(of: storageEntry)
        let needed = try checkedByteCount([storage.count], elementSize: storage.dtype.size)
        guard bytes.count >= needed else {
            throw ReadError("storage '\(storage.key)' holds \(bytes.count) bytes, its record says \(storage.count) elements of \(storage.dtype.rawValue)")
        }
        bytes.removeLast(bytes.count - needed)
        let view = StridedView(offset: tensor.offset, size: tensor.size, stride: tensor.stride)
        var out = try view.gather(bytes, elementSize: storage.dtype.size)
        if try isBigEndian(archive, prefix) { out = byteSwapped(out, elementSize: storage.dtype.size) }
        return LatentArray(dtype: storage.dtype, shape: tensor.size, bytes: out)
    }

    /// The tensor to push from what the pickle holds: the tensor itself, or
    /// from a dict the `key` asked for, else `latents`, else its only tensor.
    public static func selectTensor(_ value: PickleValue, key requested: String?) throws(ReadError) -> TorchTensorRef {
        switch value {
        case let .tensor(t):
            return t
        case let .dict(d):
            let tensors = d.items.compactMap { item -> (String, TorchTensorRef)? in
                guard case let .string(k) = item.key, case let .tensor(t) = item.value else { return nil }
                return (k, t)
            }
            let listing = d.stringKeys.joined(separator: ", ")
            if let requested {
                guard let v = d[requested] else { throw ReadError("no entry named '\(requested)' (it has: \(listing))") }
                guard case let .tensor(t) = v else { throw ReadError("'\(requested)' is a \(v.typeName), not a tensor") }
                return t
            }
            if case let .tensor(t)? = d["latents"] { return t }
            if tensors.count == 1 { return tensors[0].1 }
            if tensors.isEmpty { throw ReadError("the saved dict holds no tensors (it has: \(listing))") }
            throw ReadError("the saved dict has no tensor named 'latents'; choose one with --key (it has: \(listing))")
        default:
            throw ReadError("the file holds a \(value.typeName); scalectl reads a tensor or a dict of tensors")
        }
    }

    static func open(_ data: Data) throws(ReadError) -> Archive {
        let magic = [UInt8](data.prefix(4))
        guard magic == [0x50, 0x4B, 0x03, 0x04] else {
            if magic.first == 0x80 {
                throw ReadError("a legacy (non-zip) torch.save file, which scalectl does not read; re-save it with PyTorch 1.6 or later (the zip format is the default)")
            }
            throw ReadError("not a torch.save file (not a zip archive)")
        }
        do {
            return try Archive(data: data, accessMode: .read)
        } catch {
            throw ReadError("not a torch.save file (damaged zip archive)")
        }
    }

    /// The folder holding `data.pkl`: named after the file by `torch.save`
    /// with a path, `archive` with a file object; whatever it is, it is the
    /// one top-level folder with a `data.pkl`.
    static func archivePrefix(_ archive: Archive) throws(ReadError) -> String {
        var prefixes: [String] = []
        var torchScript = false
        for entry in archive where entry.type == .file {
            let parts = entry.path.split(separator: "/", omittingEmptySubsequences: false)
            if parts.count == 2, parts[1] == "data.pkl" { prefixes.append(String(parts[0]) + "/") }
            if parts.count == 2, parts[1] == "constants.pkl" { torchScript = true }
        }
        if torchScript {
            throw ReadError("a TorchScript archive (torch.jit.save), not a torch.save of tensors")
        }
        guard let prefix = prefixes.first else {
            throw ReadError("not a torch.save file (the zip has no {archive}/data.pkl)")
        }
        guard prefixes.count == 1 else {
            throw ReadError("the zip has several data.pkl (\(prefixes.joined(separator: ", "))); a torch.save file has one")
        }
        return prefix
    }

    /// `byteorder` names the storages' byte order; torch before 1.10 wrote
    /// none, and only little-endian machines existed for it in practice.
    static func isBigEndian(_ archive: Archive, _ prefix: String) throws(ReadError) -> Bool {
        guard let entry = archive[prefix + "byteorder"] else { return false }
        let text = String(decoding: try archive.bytes(of: entry), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        switch text {
        case "little": return false
        case "big": return true
        default: throw ReadError("unknown byteorder '\(text)' in the archive")
        }
    }
}
