import Foundation
import StreamModel
import Testing
import TestSupport
@testable import ScaleServer

/// The direct JSON writer against Foundation's `JSONEncoder`, the encoder it
/// replaced on the push path: the same bytes for every generated value.
@Suite struct JSONWriterTests {
    static let keys = ["a", "b", "B", "a10", "a9", "_x", "x_y", "scaling_factor", "é", "Z", "a b", "k/1", ""]
    static let strings = ["", "plain", "quote \" and \\ backslash", "slash / and ≥ ±", "tab\tnew\nline\r\u{8}\u{C}",
                          "\u{0}\u{1}\u{1F}\u{7F}", "emoji 🙂 and \u{2028}\u{2029}", "GET …/normalization?tag=BUCKET"]

    static func double(_ g: inout SplitMix64) -> Double {
        switch g.next() % 6 {
        case 0: return Double(Int64(bitPattern: g.next()) % 1000)
        case 1: return [0.0, -0.0, 1, -1, 0.1, 1e-5, 1e16, 1.5e300, 5e-324, Double.greatestFiniteMagnitude][Int(g.next() % 10)]
        case 2: return Double(g.next() % 1_000_000) / 1000
        default:
            let d = Double(bitPattern: g.next())
            return d.isFinite ? d : 0.5
        }
    }

    static func value(_ g: inout SplitMix64, depth: Int) -> JSONValue {
        switch g.next() % (depth > 3 ? 5 : 7) {
        case 0: return .null
        case 1: return .bool(g.next() % 2 == 0)
        case 2: return .int([0, 1, -1, Int.max, Int.min, Int(Int32.max)][Int(g.next() % 6)] &+ Int(g.next() % 3))
        case 3: return .number(double(&g))
        case 4: return .string(strings[Int(g.next() % UInt64(strings.count))])
        case 5: return .array((0..<Int(g.next() % 5)).map { _ in value(&g, depth: depth + 1) })
        default:
            return .object((0..<Int(g.next() % 6)).map { _ in (keys[Int(g.next() % UInt64(keys.count))], value(&g, depth: depth + 1)) })
        }
    }

    static func foundation(_ v: JSONValue, escapingSlashes: Bool) throws -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = escapingSlashes ? [.sortedKeys] : [.sortedKeys, .withoutEscapingSlashes]
        return Array(try e.encode(v))
    }

    @Test(arguments: [false, true])
    func sameBytesAsJSONEncoder(escapingSlashes: Bool) throws {
        var g = SplitMix64(seed: escapingSlashes ? 7 : 11)
        var objects = 0
        for _ in 0..<3000 {
            let v = Self.value(&g, depth: 0)
            if case .object = v { objects += 1 }
            let ours = v.bytes(escapingSlashes: escapingSlashes)
            let theirs = try Self.foundation(v, escapingSlashes: escapingSlashes)
            #expect(ours == theirs, "\(String(decoding: ours, as: UTF8.self)) vs \(String(decoding: theirs, as: UTF8.self))")
            if ours != theirs { return }
        }
        #expect(objects > 300)
    }

    /// A hand-written case: sorted keys, the last of a repeated key, no `.0`.
    @Test func handWrittenCase() {
        let v: JSONValue = .object([("b", .int(2)), ("a", .array([.number(1), .number(-0.5), .null])), ("b", .string("x/y\n")),
                                    ("c", .num(.nan))])
        #expect(String(decoding: v.bytes(), as: UTF8.self) == #"{"a":[1,-0.5,null],"b":"x/y\n","c":null}"#)
        #expect(String(decoding: v.bytes(escapingSlashes: true), as: UTF8.self) == #"{"a":[1,-0.5,null],"b":"x\/y\n","c":null}"#)
    }

    /// Keys in the writer's order, the last of a repeated key kept.
    static func canonical(_ v: JSONValue) -> JSONValue {
        switch v {
        case .array(let a): return .array(a.map(canonical))
        case .object(let pairs): return .object(JSONValue.sortedUniqueKeys(pairs).map { (pairs[$0].0, canonical(pairs[$0].1)) })
        default: return v
        }
    }

    /// Parsing what the writer wrote gives the value back (an integral
    /// number may come back as an int: JSONValue's == holds them equal).
    @Test func roundTrips() throws {
        var g = SplitMix64(seed: 3)
        var checked = 0
        for _ in 0..<500 {
            let v = Self.value(&g, depth: 0)
            guard case .object = v else { continue }
            let back = try JSONValue.parse(Data(v.bytes()))
            #expect(Self.canonical(back) == Self.canonical(v))
            checked += 1
        }
        #expect(checked > 50)
    }
}

/// The stream row's state document, written directly, against `JSONEncoder`
/// and against decoding it back.
@Suite struct StoredStateJSONTests {
    static func states() -> [StreamState] {
        var plain = StreamState(name: "s", config: StreamConfig(), now: Date(timeIntervalSince1970: 1000))
        var busy = plain
        busy.channels = 4
        busy.referenceVersion = 7
        busy.lastPushAt = Date(timeIntervalSince1970: 1_764_000_000.123456)
        busy.meanBaseline = -0.0123456789
        busy.alerts[.varianceDrift] = AlertMachine(phase: .firing, consecutive: 5, since: Date(timeIntervalSince1970: 1_764_000_000.5),
                                                   message: "normalized std is 1.2 (\"quoted\") / slash ≥ 5%", value: 1.2)
        busy.alerts[.nonfinite] = AlertMachine(phase: .inactive, consecutive: 0, since: nil, message: "", value: nil)
        busy.frozen = FrozenReference(reference: .perChannel(latentsMean: [0.1, -0.2, 0.3, 1e-7], latentsStd: [1, 2.5, 0.75, 3],
                                                             scalingFactor: 0.18215),
                                      frozenAt: Date(timeIntervalSince1970: 1_764_000_100))
        var scalar = busy
        scalar.frozen = FrozenReference(reference: .scalar(scalingFactor: 0.13025, shiftFactor: 0.0609), frozenAt: Date(timeIntervalSince1970: 5))
        plain.lastPushAt = nil
        return [plain, busy, scalar]
    }

    @Test func sameBytesAsJSONEncoderAndDecodesBack() throws {
        for s in Self.states() {
            let stored = StoredState(s)
            let ours = stored.encoded()
            #expect(stored.json != nil)
            #expect(ours == (try StreamPersistence.encoder.encode(stored)))
            #expect(try JSONDecoder().decode(StoredState.self, from: ours) == stored)
        }
    }

    /// A reference version JSONValue cannot hold goes through JSONEncoder.
    @Test func hugeReferenceVersionFallsBack() throws {
        var s = Self.states()[1]
        s.referenceVersion = UInt64.max
        let stored = StoredState(s)
        #expect(stored.json == nil)
        #expect(try JSONDecoder().decode(StoredState.self, from: stored.encoded()) == stored)
    }
}
