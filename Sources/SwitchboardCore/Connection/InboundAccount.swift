import Synchronization

/// One connection's share of the API's ``InboundMemoryBudget``, for transports.
///
/// Switchboard counts every message from the time it is read until its terminal has handled it. A transport
/// that makes input larger than what arrived on the wire — inflating a permessage-deflate frame — reserves the
/// memory *before* it does so, from the account of the connection being read:
///
/// ```swift
/// if let account = InboundAccount.current {
///     try await account.reserve(mostTheFrameCanInflateTo)
///     let inflated = try inflate(frame)
///     account.giveBack(mostTheFrameCanInflateTo - inflated.count)
/// }
/// ```
///
/// What the transport keeps reserved is handed over to the message it produces. ``current`` is set while
/// Switchboard waits for the transport's next message, in the task that reads the connection.
public final class InboundAccount: Sendable {
    /// The account of the connection whose input is being read in this task, if any.
    @TaskLocal public static var current: InboundAccount?

    let budget: InboundMemoryBudget
    let timeout: Duration
    private let held = Mutex(0)
    private let onExhausted: @Sendable () async -> Void

    init(budget: InboundMemoryBudget, timeout: Duration, onExhausted: @escaping @Sendable () async -> Void) {
        self.budget = budget
        self.timeout = timeout
        self.onExhausted = onExhausted
    }

    /// Reserves `bytes` of the API's budget for this connection, waiting for others to release memory.
    ///
    /// - Throws: ``InboundMemoryExhausted`` if the memory did not become free in time (or the task was
    ///   cancelled). The connection has then been closed with `1013 Try again later` and a reason.
    public func reserve(_ bytes: Int) async throws(InboundMemoryExhausted) {
        guard bytes > 0 else { return }
        guard await budget.reserve(bytes, timeout: timeout) else {
            if !Task.isCancelled { await onExhausted() }
            throw InboundMemoryExhausted(bytes: bytes, limit: budget.limit)
        }
        held.withLock { $0 += bytes }
    }

    /// Returns part of a reservation that was not needed.
    public func giveBack(_ bytes: Int) {
        let returned = held.withLock { held in
            let returned = min(max(bytes, 0), held)
            held -= returned
            return returned
        }
        budget.release(returned)
    }

    /// What this connection holds and has not handed over to a message yet; it becomes the caller's to release.
    func takeHeld() -> Int {
        held.withLock { held in
            defer { held = 0 }
            return held
        }
    }
}

/// The API's memory for client input stayed spent for longer than a connection may wait.
public struct InboundMemoryExhausted: Error, Sendable, CustomStringConvertible {
    /// The bytes that were asked for.
    public let bytes: Int
    /// The API's budget, in bytes.
    public let limit: Int

    public var description: String {
        "No memory for incoming messages: \(bytes) bytes asked for, all of the server's \(limit) bytes in use"
    }
}
