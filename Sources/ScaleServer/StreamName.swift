/// Stream names: `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`.
enum StreamName {
    /// The name if it follows the stream-name rule (peers follow it too).
    static func validate(_ name: String?, what: String = "stream") throws(APIError) -> String {
        guard let name, isValid(name) else {
            throw .badRequest("invalid_\(what)_name", "\(what) name '\(name ?? "")' is invalid; use 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. \(what == "peer" ? "node-a1b2" : "sdxl-vae-1024"))")
        }
        return name
    }

    static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...128).contains(bytes.count) else { return false }
        func alnum(_ b: UInt8) -> Bool { (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) }
        guard alnum(bytes[0]) else { return false }
        return bytes.dropFirst().allSatisfy { alnum($0) || $0 == 46 || $0 == 95 || $0 == 45 }
    }
}
