import Testing

@testable import SwitchboardPTY

/// The PTY session's output pacing as a value: read on, evict, or wait, for given queues.
@Suite struct OutputPacingTests {
    let pacing = OutputPacing(waitLimit: 64, evictLimit: 1024, stallLimit: .seconds(1), dropLimit: 16_384)

    /// Queues that are all taking their output (none has waited).
    private func taking(_ pending: [Int: Int]) -> [Int: OutputPacing.Queue] {
        pending.mapValues { OutputPacing.Queue(pending: $0, waiting: .zero) }
    }

    @Test func readsWhileTheFastestClientKeepsUp() {
        #expect(pacing.step([:]) == .read, "no client: the program runs (output goes to the replay)")
        #expect(pacing.step(taking([1: 64])) == .read)
        #expect(pacing.step(taking([1: 0, 2: 5000])) == .read, "the fastest sets the pace; the other still takes its output")
    }

    @Test func waitsForTheFastestAndNeverEvictsAnOnlyClient() {
        #expect(pacing.step(taking([1: 65])) == .wait)
        #expect(pacing.step([1: .init(pending: 1_000_000, waiting: .seconds(60))]) == .wait, "an only client is waited for, however far behind")
        #expect(pacing.step(taking([1: 100, 2: 200])) == .wait, "all behind, none too far")
    }

    @Test func evictsSharedClientsThatStallOrFallTooFarBehindButKeepsSomeone() {
        let stalled = OutputPacing.Queue(pending: 2000, waiting: .seconds(1))
        #expect(pacing.step([1: .init(pending: 0, waiting: .zero), 2: stalled]) == .evict([2]), "stalled, even while the other keeps up")
        #expect(pacing.step([1: .init(pending: 100, waiting: .zero), 2: stalled, 3: .init(pending: 20_000, waiting: .zero)]) == .evict([2, 3]))
        #expect(
            pacing.step([1: .init(pending: 0, waiting: .zero), 2: .init(pending: 2000, waiting: .milliseconds(999))]) == .read,
            "behind but taking its output: a slower reader, or one whose socket buffers filled later than the other's")
        #expect(
            pacing.step([1: .init(pending: 1000, waiting: .seconds(5)), 2: .init(pending: 100, waiting: .zero)]) == .wait,
            "not far enough behind to be evicted, however long it waits")
        #expect(pacing.step([1: stalled, 2: .init(pending: 3000, waiting: .seconds(9))]) == .wait, "everyone stalled: the fastest stays")
    }
}
