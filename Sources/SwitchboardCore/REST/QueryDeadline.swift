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

    /// The deadline of the read running in this task, for ``QueryProgress/advance()``.
    struct Deadline: Sendable {
        let instant: ContinuousClock.Instant
        let timeout: Duration
        let resource: String

        /// The `503` of a read past its deadline.
        var expired: SwitchboardError { QueryDeadline.expired(resource: resource, timeout: timeout) }
    }

    @TaskLocal static var current: Deadline?

    /// Runs `body` and returns its result, or throws a `503` once `timeout` has passed.
    ///
    /// Without `inline`, `body` runs in its own task: at the deadline the caller is answered at once and the
    /// task is cancelled; a store that checks for cancellation (see ``QueryProgress``) stops, one that does not
    /// finishes in the background and its result is dropped. With `inline` (a store that only loops in memory
    /// and calls ``QueryProgress/advance()``), `body` runs in the caller's task and `advance()` throws the
    /// `503` once the deadline has passed. Cancelling the caller cancels `body` too.
    static func run<T: Sendable>(
        _ timeout: Duration, resource: String, inline: Bool = false, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        if inline {
            return try await $current.withValue(Deadline(instant: .now + timeout, timeout: timeout, resource: resource)) {
                try await body()
            }
        }
        let race = Race<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                race.wait(for: continuation)
                let timer = DeadlineTimer.shared.schedule(at: .now + timeout) {
                    if race.settle(.failure(expired(resource: resource, timeout: timeout))) { race.cancelWork() }
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

    static func expired(resource: String, timeout: Duration) -> SwitchboardError {
        SwitchboardError(
            .serviceUnavailable, code: .queryTimeout,
            "The query on '\(resource)' took longer than the \(describe(timeout)) a query may take; narrow it with conditions, or page it with limit and offset"
        )
    }

    /// `10 s`, `250 ms`.
    static func describe(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(milliseconds) ms"
    }
}
