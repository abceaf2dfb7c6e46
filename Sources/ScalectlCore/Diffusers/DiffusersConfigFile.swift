import Foundation

/// Reading and updating diffusers `config.json` files.
public enum DiffusersConfigFile {
    /// Merges `keys` into `config`: existing keys are replaced where they
    /// stand, every other key stays as it was. New keys go where
    /// `json.dumps(sort_keys=True)` (how diffusers saves configs) would put
    /// them when the file is sorted, and at the end otherwise.
    public static func merge(_ keys: JSONValue, into config: JSONValue) -> JSONValue {
        guard var pairs = config.object, let additions = keys.object else { return config }
        let names = pairs.map(\.0)
        let sorted = names == names.sorted()
        for (key, value) in additions {
            if let i = pairs.firstIndex(where: { $0.0 == key }) {
                pairs[i].1 = value
            } else if sorted, let i = pairs.firstIndex(where: { $0.0 > key }) {
                pairs.insert((key, value), at: i)
            } else {
                pairs.append((key, value))
            }
        }
        return .object(pairs)
    }

    /// Keys of `config` that change what the merged normalization means but
    /// that `keys` does not set: a leftover `shift_factor` after a scalar
    /// estimate, or `latents_mean` after a shift estimate. They are kept (the
    /// file is the user's) and reported.
    public static func conflicts(_ keys: JSONValue, in config: JSONValue) -> [String] {
        let written = Set((keys.object ?? []).map(\.0))
        return ["shift_factor", "latents_mean", "latents_std", "whitening_matrix"].filter { key in
            guard !written.contains(key), let value = config[key] else { return false }
            if value.isNull { return false }
            if key == "shift_factor", value.double == 0 { return false }
            return true
        }
    }

    /// Reads a JSON object from a file, with errors a person can act on.
    public static func load(_ path: String, what: String) throws(CLIError) -> (value: JSONValue, text: String) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let status: ExitStatus = FileManager.default.fileExists(atPath: path) ? .ioError : .noInput
            throw CLIError(status, "cannot read \(what) \(path): \(LatentFile.describe(error))")
        }
        let text = String(decoding: data, as: UTF8.self)
        do {
            let value = try JSONValue(parsing: text)
            guard value.object != nil else { throw CLIError(.dataError, "\(what) \(path) is not a JSON object") }
            return (value, text)
        } catch let error as JSONParseError {
            throw CLIError(.dataError, "\(what) \(path) is not valid JSON: \(error)")
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError(.dataError, "\(what) \(path): \(error)")
        }
    }

    /// Replaces the file's contents atomically, in the layout diffusers uses
    /// (two-space indent, a final newline when the file had one).
    public static func write(_ value: JSONValue, to path: String, finalNewline: Bool) throws(CLIError) {
        let text = value.pretty + (finalNewline ? "\n" : "")
        let url = URL(fileURLWithPath: path)
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        do {
            try Data(text.utf8).write(to: url, options: .atomic)
            if let permissions = attributes?[.posixPermissions] {
                try? FileManager.default.setAttributes([.posixPermissions: permissions], ofItemAtPath: path)
            }
        } catch {
            throw CLIError(.cantCreate, "cannot write \(path): \(LatentFile.describe(error))")
        }
    }
}
