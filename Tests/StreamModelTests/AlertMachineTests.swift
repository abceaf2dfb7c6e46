import Foundation
import Testing
@testable import StreamModel

@Suite struct AlertMachineTests {
    let t0 = Date(timeIntervalSince1970: 1000)

    @Test func pendingThenFiringThenResolved() {
        var m = AlertMachine()
        var states: [[String]] = []
        for (i, c) in [true, true, true, true, false, false].enumerated() {
            states.append(m.evaluate(c, forBatches: 3, now: t0 + Double(i), message: "m", value: 1).map(\.state.rawValue))
        }
        #expect(states == [["pending"], [], ["firing"], [], ["resolved"], []])
        #expect(m.phase == .inactive && m.since == nil)
    }

    @Test func resolvedCarriesItsStartAndEnd() {
        var m = AlertMachine()
        _ = m.evaluate(true, forBatches: 2, now: t0, message: "a", value: 1)
        _ = m.evaluate(true, forBatches: 2, now: t0 + 1, message: "b", value: 2)
        let r = m.evaluate(false, forBatches: 2, now: t0 + 5, message: "", value: 0)
        #expect(r == [AlertMachine.Transition(state: .resolved, since: t0, resolvedAt: t0 + 5, message: "b", value: 0)])
    }

    @Test func immediateAndSingleBatchSkipPending() {
        var a = AlertMachine()
        #expect(a.evaluate(true, forBatches: 5, immediate: true, now: t0, message: "", value: nil).map(\.state.rawValue) == ["firing"])
        var b = AlertMachine()
        #expect(b.evaluate(true, forBatches: 1, now: t0, message: "", value: nil).map(\.state.rawValue) == ["firing"])
    }

    @Test func aPendingAlertThatClearsResolvesWithoutFiring() {
        var m = AlertMachine()
        _ = m.evaluate(true, forBatches: 3, now: t0, message: "", value: nil)
        _ = m.evaluate(true, forBatches: 3, now: t0 + 1, message: "", value: nil)
        #expect(m.evaluate(false, forBatches: 3, now: t0 + 2, message: "", value: nil).map(\.state.rawValue) == ["resolved"])
        #expect(m.evaluate(true, forBatches: 3, now: t0 + 3, message: "", value: nil).map(\.state.rawValue) == ["pending"])
    }

    /// The message is formatted only for an evaluation whose condition holds,
    /// and the resolved transition keeps the last one that was.
    @Test func messageBuiltOnlyWhenTheConditionHolds() {
        var m = AlertMachine()
        var built = 0
        func message(_ text: String) -> String { built += 1; return text }
        _ = m.evaluate(false, forBatches: 2, now: t0, message: message("never"), value: nil)
        #expect(built == 0)
        _ = m.evaluate(true, forBatches: 2, now: t0 + 1, message: message("first"), value: 1)
        _ = m.evaluate(true, forBatches: 2, now: t0 + 2, message: message("second"), value: 2)
        #expect(built == 2 && m.message == "second")
        let r = m.evaluate(false, forBatches: 2, now: t0 + 3, message: message("dropped"), value: nil)
        #expect(built == 2)
        #expect(r.map(\.message) == ["second"])
    }
}
