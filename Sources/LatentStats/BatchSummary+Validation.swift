extension BatchSummary {
    /// Decodes a summary that came from outside (another node, a file) and
    /// checks that it is one a real stream could hold: the binary form
    /// (``init(encoded:)``: magic, version, no truncation, no trailing bytes),
    /// then counts that agree with each other and finite moments wherever a
    /// count is positive.
    public init(validating bytes: [UInt8]) throws(BinaryCodingError) {
        try self.init(encoded: bytes)
        try validate()
    }

    /// Checks the summary's internal consistency; see ``init(validating:)``.
    public func validate() throws(BinaryCodingError) {
        func fail(_ what: String) -> BinaryCodingError { .inconsistent(what) }
        // Every count in range first, so that the sums below (and merging the
        // summary into a stream's) cannot overflow.
        let counts = [("batches", batches), ("samples", samples), ("elements", elements),
                      ("nan count", nanCount), ("+inf count", posInfCount), ("-inf count", negInfCount),
                      ("total count", total.count), ("co-moment count", covariance.count)]
            + perChannel.enumerated().map { ("channel \($0.offset) count", $0.element.count) }
        for (name, v) in counts {
            if v < 0 { throw fail("\(name) is negative") }
            if v > Self.maxCount { throw fail("\(name) (\(v)) is more than any stream holds (2^53)") }
        }
        guard elements == total.count + nonfiniteCount else {
            throw fail("elements (\(elements)) is not the finite count (\(total.count)) plus the non-finite count (\(nonfiniteCount))")
        }
        var channelTotal = 0
        for m in perChannel {
            channelTotal += m.count
            guard channelTotal <= total.count else { break }
        }
        guard channelTotal == total.count else { throw fail("per-channel counts do not add up to the total") }
        guard sketch.count == UInt64(total.count) else { throw fail("the sketch holds \(sketch.count) values, not \(total.count)") }
        if elements > 0 && (batches == 0 || samples == 0) { throw fail("elements without batches or samples") }
        try Self.check(total, "total")
        for (c, m) in perChannel.enumerated() { try Self.check(m, "channel \(c)") }
        guard covariance.count >= 0, covariance.count <= total.count,
              covariance.mean.allSatisfy(\.isFinite), covariance.comoment.allSatisfy(\.isFinite) else {
            throw fail("the channel co-moments are not finite or count more than the total")
        }
        for (name, s) in [("sample spread", sampleSpread)] + channelSpread.enumerated().map({ ("channel \($0.offset) spread", $0.element) }) {
            try Self.check(s.variances, name); try Self.check(s.means, name); try Self.check(s.meanSquares, name)
            guard s.samples <= samples else { throw fail("\(name) counts more samples than the summary") }
        }
    }

    /// The most values a valid summary counts: 2^53 (9e15, beyond any real
    /// stream, and where a count stops being exact as a `Double`). Below it,
    /// adding the counts of a summary's parts, or of up to 1,024 summaries,
    /// cannot overflow.
    public static let maxCount = 1 << 53

    private static func check(_ m: Moments, _ name: String) throws(BinaryCodingError) {
        guard m.count >= 0 else { throw .inconsistent("\(name) has a negative count") }
        guard m.count <= maxCount else { throw .inconsistent("\(name) counts more than any stream holds (2^53)") }
        guard m.count > 0 else { return }
        guard [m.mean, m.m2, m.m3, m.m4, m.min, m.max].allSatisfy(\.isFinite) else {
            throw .inconsistent("\(name) has non-finite moments")
        }
        guard m.m2 >= 0, m.m4 >= 0, m.min <= m.max else { throw .inconsistent("\(name) has impossible moments") }
    }
}
