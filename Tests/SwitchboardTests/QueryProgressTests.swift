import Testing

@testable import SwitchboardCore

/// The progress counter of loops over rows: a check every `interval` steps, and nothing in between.
@Suite(.timeLimit(.minutes(1)))
struct QueryProgressTests {
    /// How many steps pass, in a task that is already cancelled, before each of the first `checks` throws.
    private func stepsBetweenCancellations(interval: Int, checks: Int) async -> [Int] {
        await Task {
            withUnsafeCurrentTask { $0?.cancel() }
            var progress = QueryProgress(interval: interval)
            var passed: [Int] = []
            var steps = 0
            while passed.count < checks && steps < 10_000 {
                do {
                    try await progress.advance()
                    steps += 1
                } catch is CancellationError {
                    passed.append(steps)
                    steps = 0
                } catch {
                    Issue.record("unexpected \(error)")
                    return passed
                }
            }
            return passed
        }.value
    }

    @Test func aCancelledLoopStopsAtEveryIntervalThStepAndNotBefore() async {
        #expect(await stepsBetweenCancellations(interval: 4, checks: 3) == [3, 3, 3])
        #expect(await stepsBetweenCancellations(interval: 1, checks: 3) == [0, 0, 0])
        #expect(await stepsBetweenCancellations(interval: 256, checks: 2) == [255, 255])
        // An interval below one is one.
        #expect(await stepsBetweenCancellations(interval: 0, checks: 2) == [0, 0])
    }

    @Test func aLoopPastItsDeadlineThrowsTheQuerysTimeoutAtTheNextCheck() async throws {
        let (steps, error) = try await QueryDeadline.run(.zero, resource: "Tests.Rows", inline: true) {
            () async -> (Int, SwitchboardError?) in
            var progress = QueryProgress(interval: 8)
            var steps = 0
            do {
                while steps < 10_000 {
                    try await progress.advance()
                    steps += 1
                }
            } catch {
                return (steps, error as? SwitchboardError)
            }
            return (steps, nil)
        }
        #expect(steps == 7)
        #expect(error?.status == 503)
        #expect(error?.message.contains("Tests.Rows") == true)
    }
}
