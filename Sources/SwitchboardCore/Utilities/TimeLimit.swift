import Synchronization

/// The time limit of ``withTimeLimit(_:cancelling:_:)`` ran out.
struct TimeLimitExceeded: Error, CustomStringConvertible {
    let limit: Duration
    var description: String { "No answer within \(limit)" }
}

/// Runs `body` in a task of its own and returns its result, or throws ``TimeLimitExceeded`` once `limit` has
/// passed, whichever comes first. The task is then cancelled (unless `cancelling` is `false`) and left to end on
/// its own: work that ignores cancellation, such as a request waiting for a database connection, cannot hold up
/// the caller.
func withTimeLimit<T: Sendable>(
    _ limit: Duration, cancelling: Bool = true, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let race = TimeLimitRace<T>()
    return try await withCheckedThrowingContinuation { continuation in
        race.start(continuation, body: body) {
            try? await Task.sleep(for: limit)
            if !Task.isCancelled { race.finish(with: .failure(TimeLimitExceeded(limit: limit)), cancellingWork: cancelling) }
        }
    }
}

/// The result that the first of the work and the timer gives; the other is then cancelled (the work only when
/// asked).
private final class TimeLimitRace<T: Sendable>: Sendable {
    private let waiting = Mutex<CheckedContinuation<T, any Error>?>(nil)
    private let tasks = Mutex<(work: Task<Void, Never>?, timer: Task<Void, Never>?)>((nil, nil))

    func start(
        _ continuation: CheckedContinuation<T, any Error>, body: @escaping @Sendable () async throws -> T,
        timer: @escaping @Sendable () async -> Void
    ) {
        waiting.withLock { $0 = continuation }
        let work = Task {
            do {
                self.finish(with: .success(try await body()), cancellingWork: false)
            } catch {
                self.finish(with: .failure(error), cancellingWork: false)
            }
        }
        let clock = Task { await timer() }
        let finished = tasks.withLock { tasks in
            tasks = (work, clock)
            return waiting.withLock { $0 == nil }
        }
        // The work may have finished before the timer was kept: stop the timer now.
        if finished { clock.cancel() }
    }

    func finish(with result: Result<T, any Error>, cancellingWork: Bool) {
        guard let continuation = waiting.withLock({ $0.take() }) else { return }
        let (work, timer) = tasks.withLock { $0 }
        timer?.cancel()
        if cancellingWork { work?.cancel() }
        continuation.resume(with: result)
    }
}
