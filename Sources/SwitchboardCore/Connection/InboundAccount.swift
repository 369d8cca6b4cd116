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
    /// Whether the connection's input has ended (``inputEnded()``), and how to end the wait in progress.
    private let waiting = Mutex<(inputEnded: Bool, giveUp: (@Sendable () -> Void)?)>((false, nil))
    private let onExhausted: @Sendable () async -> Void

    init(budget: InboundMemoryBudget, timeout: Duration, onExhausted: @escaping @Sendable () async -> Void) {
        self.budget = budget
        self.timeout = timeout
        self.onExhausted = onExhausted
    }

    /// Reserves `bytes` of the API's budget for this connection, waiting for others to release memory.
    ///
    /// - Throws: ``InboundMemoryExhausted`` if the memory did not become free in time (or the task was
    ///   cancelled, or the connection's input ended). The connection has then been closed with
    ///   `1013 Try again later` and a reason (unless its client was gone).
    public func reserve(_ bytes: Int) async throws(InboundMemoryExhausted) {
        guard bytes > 0 else { return }
        var waited = false
        let reserved = await budget.reserve(bytes, timeout: timeout) { giveUp in
            waited = true
            let ended = waiting.withLock { waiting in
                if !waiting.inputEnded { waiting.giveUp = giveUp }
                return waiting.inputEnded
            }
            if ended { giveUp() }
        }
        var inputEnded = false
        if waited {
            inputEnded = waiting.withLock { waiting in
                waiting.giveUp = nil
                return waiting.inputEnded
            }
        }
        guard reserved else {
            if !Task.isCancelled && !inputEnded { await onExhausted() }
            throw InboundMemoryExhausted(bytes: bytes, limit: budget.limit)
        }
        held.withLock { $0 += bytes }
    }

    /// The connection's input has ended: its client closed or went away. A wait for memory in progress gives
    /// up now, and a later one at once, so that the connection ends and releases what it holds rather than
    /// waiting out the timeout for memory nobody will use. Called by the transport, from any thread.
    public func inputEnded() {
        let giveUp = waiting.withLock { waiting in
            waiting.inputEnded = true
            return waiting.giveUp.take()
        }
        giveUp?()
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
