import SwitchboardCore
import Synchronization

/// The output waiting for one client of a PTY session, sent in order by its own task.
///
/// It does not bound itself: the session holds the program back while even the fastest client has more
/// than its limit ``pending``, and drops clients that fall too far behind the others.
final class ClientOutbox: Sendable {
    private let queue = BoundedQueue<PTYOutput>()
    private final class Counter: Sendable {
        let bytes = Atomic<Int>(0)
    }
    private let pendingBytes = Counter()
    private let sender: Task<Void, Never>

    /// - Parameters:
    ///   - deliver: Sends one message to the client.
    ///   - report: Called after each message (`true`), or once when sending failed (`false`).
    init(deliver: @escaping @Sendable (PTYOutput) async throws -> Void, report: @escaping @Sendable (Bool) async -> Void) {
        sender = Task { [queue, pendingBytes] in
            while let item = await queue.next() {
                do {
                    try await deliver(item)
                } catch {
                    queue.finish(droppingBuffered: true)
                    await report(false)
                    return
                }
                pendingBytes.bytes.subtract(item.byteCount, ordering: .relaxed)
                await report(true)
            }
        }
    }

    /// Bytes queued and not yet sent (the message being sent included).
    var pending: Int { pendingBytes.bytes.load(ordering: .relaxed) }

    /// Queues output for the client; after ``stop()`` it is dropped.
    func enqueue(_ item: PTYOutput) {
        if queue.append(item) { pendingBytes.bytes.add(item.byteCount, ordering: .relaxed) }
    }

    /// Sends what is queued, then ends the sender (for a session that ends: the client gets the last output).
    func sendRemainingAndStop() async {
        queue.finish(droppingBuffered: false)
        await sender.value
    }

    /// Drops what is queued and ends the sender.
    func stop() {
        queue.finish(droppingBuffered: true)
        sender.cancel()
    }
}
