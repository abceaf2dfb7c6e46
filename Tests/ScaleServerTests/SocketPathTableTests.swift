import Foundation
import ScaledPaths
import Testing

/// The socket rule against the table that the Python package's test reads too
/// (`integrations/python/tests/test_socket_path.py`), so both ends agree.
@Suite struct SocketPathTableTests {
    struct Table: Decodable {
        struct Case: Decodable { var env: [String: String]; var uid: UInt32; var expected: String }
        var cases: [Case]
    }

    static let table: Table = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../fixtures/socket_paths.json")
        return try! JSONDecoder().decode(Table.self, from: Data(contentsOf: url))
    }()

    @Test func everyCaseOfTheSharedTable() {
        #expect(Self.table.cases.count >= 6)
        for c in Self.table.cases {
            #expect(SocketPath.resolve(explicit: nil, environment: c.env, uid: c.uid) == c.expected, "\(c.env)")
        }
    }

    @Test func anExplicitPathWins() {
        #expect(SocketPath.resolve(explicit: "/x.sock", environment: ["SCALED_SOCKET": "/y"]) == "/x.sock")
        #expect(SocketPath.resolve(explicit: "", environment: ["SCALED_SOCKET": "/y"]) == "/y")
    }
}
