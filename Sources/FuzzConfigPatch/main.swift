// libFuzzer target: a `PUT /v1/streams/NAME` body, parsed as JSON and applied
// to the default config; an accepted config must survive its stored form.
import CLibFuzzer
import Foundation
import ScaleServer

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzEntry.config(Data(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, testOneInput))
