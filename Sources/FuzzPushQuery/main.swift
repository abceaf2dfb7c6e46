// libFuzzer target: what a push's request line and headers decide
// (`PushRequest`, `checkShape()`). The input is split at newlines into the
// query string, then optionally the Content-Type, the Content-Length and the
// stream name.
import CLibFuzzer
import Foundation
import ScaleServer

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let parts = text.split(separator: "\n", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
    func part(_ i: Int) -> String? { i < parts.count ? parts[i] : nil }
    FuzzEntry.push(name: part(3) ?? "fuzz", query: part(0) ?? "", contentType: part(1), contentLength: part(2))
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, testOneInput))
