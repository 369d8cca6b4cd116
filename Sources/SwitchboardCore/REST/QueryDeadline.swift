import Synchronization
import HTTPTypes

/// Runs reads of entity resources against a deadline.
enum QueryDeadline {
    /// The caller's continuation, resumed once, and the task doing the work.
    private final class Race<T: Sendable>: Sendable {
        private let caller = Mutex<CheckedContinuation<T, any Error>?>(nil)
        private let work = Mutex<Task<Void, Never>?>(nil)

        func wait(for continuation: CheckedContinuation<T, any Error>) { caller.withLock { $0 = continuation } }

        /// Answers the caller, unless it has been answered already; `false` then.
        @discardableResult
        func settle(_ result: Result<T, any Error>) -> Bool {
            let continuation = caller.withLock { continuation in
                defer { continuation = nil }
                return continuation
            }
            continuation?.resume(with: result)
            return continuation != nil
        }

        var isSettled: Bool { caller.withLock { $0 == nil } }

        func run(_ task: Task<Void, Never>) { work.withLock { $0 = task } }

        func cancelWork() { work.withLock { $0 }?.cancel() }
    }

    /// Runs `body` in its own task and returns its result, or throws a `503` once `timeout` has passed.
    ///
    /// At the deadline the caller is answered at once and `body`'s task is cancelled: a store that checks for
    /// cancellation (see ``QueryProgress``) stops; one that does not finishes in the background and its result
    /// is dropped. Cancelling the caller cancels `body` too.
    static func run<T: Sendable>(
        _ timeout: Duration, resource: String, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let race = Race<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                race.wait(for: continuation)
                let timer = DeadlineTimer.shared.schedule(at: .now + timeout) {
                    let expired = SwitchboardError(
                        .serviceUnavailable, code: .queryTimeout,
                        "The query on '\(resource)' took longer than the \(describe(timeout)) a query may take; narrow it with conditions, or page it with limit and offset"
                    )
                    if race.settle(.failure(expired)) { race.cancelWork() }
                }
                race.run(
                    Task {
                        do {
                            race.settle(.success(try await body()))
                        } catch {
                            race.settle(.failure(error))
                        }
                        DeadlineTimer.shared.cancel(timer)
                    })
                if Task.isCancelled || race.isSettled { race.cancelWork() }
            }
        } onCancel: {
            race.cancelWork()
        }
    }

    /// `10 s`, `250 ms`.
    static func describe(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(milliseconds) ms"
    }
}
