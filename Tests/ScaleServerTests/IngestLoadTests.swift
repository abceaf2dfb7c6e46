import Testing
@testable import ScaleServer

/// A push is split over its share of the cores: all of them alone, fewer
/// while other pushes are summarized, never less than one chunk.
@Suite struct IngestLoadTests {
    @Test(arguments: [(2, 0, 2), (2, 1, 1), (2, 5, 1), (16, 0, 16), (16, 2, 5), (16, 3, 4), (1, 0, 1), (3, 1, 1)])
    func theShareIsTheCoresOverThePushesInFlight(cores: Int, others: Int, want: Int) {
        #expect(IngestLoad.chunks(cores: cores, others: others) == want)
    }

    @Test func pushesInFlightAreCountedAndReleased() async throws {
        let load = IngestLoad(cores: 4)
        // A push that starts while another is summarized (nested here, so
        // that the overlap is certain), and a third during both.
        let shares = await load.withShare { a in
            await load.withShare { b in (a, b, await load.withShare { c in c }) }
        }
        #expect(shares.0 == 4 && shares.1 == 2 && shares.2 == 1)
        // All done, also after a push that threw: the next has every core again.
        struct Failed: Error {}
        _ = try? await load.withShare { _ -> Int in throw Failed() }
        #expect(await load.withShare { $0 } == 4)
    }
}
