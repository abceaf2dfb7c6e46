// libFuzzer target: the `.npy` header of a push body (NpyFormat's
// `NpyFileHeader`, then the daemon's dtype and order policy).
import CLibFuzzer
import Foundation
import NpyFormat
import ScaleServer

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    if let header = try? NpyFileHeader(bytes) {
        precondition(header.dataOffset <= size, "the data offset lies beyond the input")
    }
    FuzzEntry.npyHeader(Array(bytes))
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, testOneInput))
