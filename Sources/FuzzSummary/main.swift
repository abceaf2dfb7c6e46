// libFuzzer target: `BatchSummary(validating:)`, the decoder of summaries that
// come from outside (peers, imports). Property: a summary it accepts encodes
// back, in the format (version) it came in, to exactly the bytes it came from.
import CLibFuzzer
import Foundation
import LatentStats

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let summary = try? BatchSummary(validating: bytes) {
        let format = SummaryFormat(of: bytes)!   // accepted, so a known version
        precondition(summary.encoded(format) == bytes, "an accepted summary does not re-encode to the same bytes")
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, testOneInput))
