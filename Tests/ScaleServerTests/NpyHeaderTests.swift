import Testing
@testable import ScaleServer
import LatentStats

@Suite struct NpyHeaderTests {
    static func file(_ header: String, version: UInt8 = 1) -> [UInt8] {
        var h = Array(header.utf8)
        let prefix = version == 1 ? 10 : 12
        while (prefix + h.count + 1) % 64 != 0 { h.append(0x20) }
        h.append(0x0A)
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
        if version == 1 { out += [UInt8(h.count & 0xFF), UInt8(h.count >> 8)] }
        else { out += [UInt8(h.count & 0xFF), UInt8((h.count >> 8) & 0xFF), 0, 0] }
        return out + h
    }

    @Test(arguments: [1 as UInt8, 2, 3])
    func parsesNumpyHeaders(version: UInt8) throws {
        let bytes = Self.file("{'descr': '<f4', 'fortran_order': False, 'shape': (32, 4, 64, 64), }", version: version)
        let h = try bytes.withUnsafeBytes { try NpyHeader($0) }
        #expect(h.dtype == .float32 && h.shape == [32, 4, 64, 64] && h.dataOffset == bytes.count)
        #expect(h.dataOffset % 64 == 0)
    }

    @Test func oneDimensionalAndScalarShapes() throws {
        let one = Self.file("{'descr': '<f2', 'fortran_order': False, 'shape': (5,), }")
        #expect(try one.withUnsafeBytes { try NpyHeader($0) }.shape == [5])
        let scalar = Self.file("{'descr': '<f8', 'fortran_order': False, 'shape': (), }")
        #expect(try scalar.withUnsafeBytes { try NpyHeader($0) }.shape == [])
    }

    @Test(arguments: [
        ("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", "unsupported_npy"),
        ("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", "unsupported_npy"),
        ("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", "unsupported_npy"),
        ("{'descr': '<f4', 'fortran_order': False, }", "invalid_npy"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", "invalid_npy"),
        ("{'descr': '<f4', 'shape': (2, 3), }", "invalid_npy"),
    ])
    func rejectsWhatItCannotRead(header: String, code: String) {
        let bytes = Self.file(header)
        #expect(throws: NpyHeader.Failure.self) { try bytes.withUnsafeBytes { try NpyHeader($0) } }
        do { _ = try bytes.withUnsafeBytes { try NpyHeader($0) } } catch let e as NpyHeader.Failure { #expect(e.code == code) } catch { Issue.record("\(error)") }
    }

    @Test func truncatedAndForeignBytes() {
        let full = Self.file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }")
        for cut in [0, 5, 9, 20, full.count - 1] {
            #expect(throws: NpyHeader.Failure.self) { try Array(full[..<cut]).withUnsafeBytes { try NpyHeader($0) } }
        }
    }
}
