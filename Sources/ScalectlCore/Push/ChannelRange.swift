/// `--channels A:B`: the channels `A..<B` of the channel axis, as a Python
/// slice (`:4` and `4:` leave out an end). EDM2-style caches hold the
/// posterior mean and std concatenated on the channel axis; `0:4` keeps the
/// mean of a 4-channel VAE.
public struct ChannelRange: Equatable, Sendable {
    public var lower: Int
    /// nil: to the last channel.
    public var upper: Int?

    public init(lower: Int, upper: Int?) {
        self.lower = lower
        self.upper = upper
    }

    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let a = parts[0].trimmingCharacters(in: .whitespaces), b = parts[1].trimmingCharacters(in: .whitespaces)
        guard let lower = a.isEmpty ? 0 : Int(a), lower >= 0 else { return nil }
        if b.isEmpty {
            upper = nil
        } else {
            guard let upper = Int(b), upper > lower else { return nil }
            self.upper = upper
        }
        self.lower = lower
    }

    public var description: String { "\(lower):\(upper.map(String.init) ?? "")" }

    /// The range for an axis of `channels`, or why it does not fit.
    public func bounds(channels: Int) throws(ReadError) -> Range<Int> {
        let upper = self.upper ?? channels
        guard upper <= channels, lower < upper else {
            throw ReadError("--channels \(description) does not fit the \(channels) channels of the array")
        }
        return lower..<upper
    }
}

extension LatentArray {
    /// The axis `axis` names in an array of `rank` axes (negative counts
    /// from the end), refusing the sample axis.
    public static func resolveAxis(_ axis: Int, rank: Int) throws(ReadError) -> Int {
        let resolved = axis < 0 ? axis + rank : axis
        guard resolved >= 1, resolved < rank else {
            throw ReadError("channel axis \(axis) is not an axis other than the sample axis of an array with \(rank) axes")
        }
        return resolved
    }

    /// The channels `range` along `axis` (sample axis included), C order kept.
    public func selectingChannels(_ range: ChannelRange, axis: Int) throws(ReadError) -> LatentArray {
        let a = try Self.resolveAxis(axis, rank: shape.count)
        let bounds = try range.bounds(channels: shape[a])
        if bounds == 0..<shape[a] { return self }
        let outer = shape[..<a].reduce(1, *)
        let inner = shape[(a + 1)...].reduce(1, *) * dtype.size
        let block = shape[a] * inner
        var out: [UInt8] = []
        out.reserveCapacity(outer * bounds.count * inner)
        for o in 0..<outer {
            let start = o * block + bounds.lowerBound * inner
            out.append(contentsOf: bytes[start..<(start + bounds.count * inner)])
        }
        var newShape = shape
        newShape[a] = bounds.count
        return LatentArray(dtype: dtype, shape: newShape, bytes: out)
    }
}
