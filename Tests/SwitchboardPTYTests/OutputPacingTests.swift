import Testing

@testable import SwitchboardPTY

/// The PTY session's output pacing as a value: read on, evict, or wait, for given queues.
@Suite struct OutputPacingTests {
    let pacing = OutputPacing(waitLimit: 64, evictLimit: 1024)

    @Test func readsWhileTheFastestClientKeepsUp() {
        #expect(pacing.step(pending: [:]) == .read, "no client: the program runs (output goes to the replay)")
        #expect(pacing.step(pending: [1: 64]) == .read)
        #expect(pacing.step(pending: [1: 0, 2: 5000]) == .read, "the fastest sets the pace")
    }

    @Test func waitsForTheFastestAndNeverEvictsAnOnlyClient() {
        #expect(pacing.step(pending: [1: 65]) == .wait)
        #expect(pacing.step(pending: [1: 1_000_000]) == .wait, "an only client is waited for, however far behind")
        #expect(pacing.step(pending: [1: 100, 2: 200]) == .wait, "all behind, none too far")
    }

    @Test func evictsSharedClientsTooFarBehindButKeepsSomeone() {
        #expect(pacing.step(pending: [1: 100, 2: 2000, 3: 5000]) == .evict([2, 3]))
        #expect(pacing.step(pending: [1: 2000, 2: 3000]) == .wait, "everyone far behind: the fastest stays")
    }
}
