import ZIPFoundation

extension Archive {
    /// One entry's uncompressed bytes, CRC-checked.
    func bytes(of entry: Entry) throws(ReadError) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(clamping: entry.uncompressedSize))
        do {
            _ = try extract(entry, skipCRC32: false) { chunk in bytes.append(contentsOf: chunk) }
        } catch {
            throw ReadError("cannot extract \(entry.path): \(error)")
        }
        return bytes
    }

    /// The bytes at `path`.
    func bytes(at path: String) throws(ReadError) -> [UInt8] {
        guard let entry = self[path] else { throw ReadError("\(path) is missing from the archive") }
        return try bytes(of: entry)
    }
}
