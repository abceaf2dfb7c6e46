import Testing
@testable import ScalectlCore

@Suite struct GlobalOptionsTests {
    @Test(arguments: [
        (["--socket", "/s", "status", "x"], ["status", "--socket", "/s", "x"]),
        (["--json", "--timeout=5", "alerts"], ["alerts", "--json", "--timeout=5"]),
        (["--socket=/s", "--json", "push", "s", "f.npy", "--tag", "a"], ["push", "--socket=/s", "--json", "s", "f.npy", "--tag", "a"]),
        (["status", "--socket", "/s"], ["status", "--socket", "/s"]),
        (["--help"], ["--help"]),
        (["--socket", "/s"], ["--socket", "/s"]),
        (["--socket", "/s", "--version"], ["--socket", "/s", "--version"]),
        ([], []),
    ])
    func movesLeadingOptionsAfterTheSubcommand(given: [String], expected: [String]) {
        #expect(GlobalOptions.reorder(given) == expected)
    }
}
