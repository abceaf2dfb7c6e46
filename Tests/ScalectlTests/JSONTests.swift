import Foundation
import Testing
@testable import ScalectlCore

@Suite("order-preserving JSON")
struct JSONTests {
    @Test func keepsKeyOrderAndNumberSpelling() throws {
        let text = #"{"z": 1, "a": 0.18215, "m": [1e-05, -0.0, 2E+3], "s": "\u00e9\n", "n": null, "t": true}"#
        let v = try JSONValue(parsing: text)
        #expect(v.object?.map(\.0) == ["z", "a", "m", "s", "n", "t"])
        #expect(v.compact == #"{"z":1,"a":0.18215,"m":[1e-05,-0.0,2E+3],"s":"\u00e9\n","n":null,"t":true}"#)
        #expect(v["s"]?.string == "é\n")
        #expect(v["m"]?.doubles == [1e-5, -0.0, 2000])
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "01x", "\"\\x\"", "{\"a\":1} x", "tru", "\"a\nb\""])
    func rejectsInvalid(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: text) }
    }

    @Test func acceptsPythonNonFiniteLiterals() throws {
        let v = try JSONValue(parsing: "[NaN, Infinity, -Infinity]")
        let d = v.doubles!
        #expect(d[0].isNaN && d[1] == .infinity && d[2] == -.infinity)
    }

    @Test func surrogatePairs() throws {
        #expect(try JSONValue(parsing: #""\ud83d\ude00""#).string == "😀")
    }

    /// The pretty form must be byte-identical to Python's
    /// `json.dumps(value, indent=2)` so that rewritten configs diff cleanly.
    @Test func prettyMatchesPythonJSONDumps() throws {
        let dir = try TempDir()
        let value = #"{"_class_name": "AutoencoderKL", "block_out_channels": [128, 256], "scaling_factor": 0.18215, "name": "caf\u00e9 \"q\"", "nested": {"a": [], "b": {}, "c": [[1, 2], [3.5]]}, "flag": false, "none": null}"#
        try value.write(toFile: dir.file("in.json"), atomically: true, encoding: .utf8)
        let python = try Proc.python("import json; print(json.dumps(json.load(open('in.json')), indent=2), end='')", cwd: dir.path)
        #expect(try JSONValue(parsing: value).pretty == python)
    }

    @Test(arguments: [0.18215, 0.13025, 1.5305, 1e-05, 1e16, 123456789.0, 1.0, 0.1 + 0.2, 5e-324])
    func numbersSpelledLikePythonRepr(_ x: Double) throws {
        let dir = try TempDir()
        let python = try Proc.python("import json; print(json.dumps(float.fromhex('\(x.hexString)')), end='')", cwd: dir.path)
        #expect(JSONValue(x).compact == python)
    }
}

extension Double {
    /// C99 hex float, so Python gets exactly this double.
    var hexString: String { String(format: "%a", self) }
}
