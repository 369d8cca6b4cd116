import NIOCore
import SwitchboardCore
import Synchronization

/// The output waiting for one client of a PTY session, sent in order by its own task.
///
/// Output that piles up while a message is being sent leaves as one message (up to ``gatherLimit``): a
/// client that keeps up gets each read as it comes, one that falls behind gets fewer, larger messages, so
/// the cost per message does not set the throughput.
///
/// It does not bound itself: the session holds the program back while even the fastest client has more
/// than its limit ``pending``, and drops clients that fall too far behind the others.
final class ClientOutbox: Sendable {
    private let queue = BoundedQueue<PTYOutput>()
    private final class Counter: Sendable {
        let bytes = Atomic<Int>(0)
        /// When the client last took a message, or when output was queued for it while it had none
        /// (`NIODeadline` nanoseconds).
        let tookOrWaitsSince = Atomic<UInt64>(NIODeadline.now().uptimeNanoseconds)

        func took() {
            tookOrWaitsSince.store(NIODeadline.now().uptimeNanoseconds, ordering: .relaxed)
        }
    }
    private let pendingBytes = Counter()
    private let sender: Task<Void, Never>
    private let deliver: @Sendable (PTYOutput) async throws -> Void
    private let report: @Sendable (Bool) async -> Void

    /// The most output gathered into one message.
    static let gatherLimit = 256 << 10

    /// - Parameters:
    ///   - deliver: Sends one message to the client.
    ///   - report: Called after each message (`true`), or once when sending failed (`false`).
    init(deliver: @escaping @Sendable (PTYOutput) async throws -> Void, report: @escaping @Sendable (Bool) async -> Void) {
        self.deliver = deliver
        self.report = report
        sender = Task { [queue, pendingBytes] in
            var held: PTYOutput?
            while true {
                let first: PTYOutput
                if let item = held {
                    first = item
                    held = nil
                } else if let item = await queue.next() {
                    first = item
                } else {
                    return
                }
                let message = Self.gathered(first, from: queue, holding: &held)
                do {
                    try await deliver(message)
                } catch {
                    queue.finish(droppingBuffered: true)
                    await report(false)
                    return
                }
                pendingBytes.bytes.subtract(message.byteCount, ordering: .relaxed)
                pendingBytes.took()
                await report(true)
            }
        }
    }

    /// `first`, with the output queued right behind it appended when `first` is output; the first notice
    /// met on the way is held for the next message.
    private static func gathered(_ first: PTYOutput, from queue: BoundedQueue<PTYOutput>, holding held: inout PTYOutput?) -> PTYOutput {
        guard case .output(var bytes) = first else { return first }
        while bytes.readableBytes < gatherLimit, let next = queue.nextIfBuffered() {
            guard case .output(let more) = next else {
                held = next
                break
            }
            bytes.writeImmutableBuffer(more)
        }
        return .output(bytes)
    }

    /// Bytes queued and not yet sent (the message being sent included).
    var pending: Int { pendingBytes.bytes.load(ordering: .relaxed) }

    /// The queue as ``OutputPacing`` sees it: what is pending, and how long the client has had output
    /// queued without taking any.
    var pacingQueue: OutputPacing.Queue {
        let pending = self.pending
        guard pending > 0 else { return OutputPacing.Queue(pending: 0, waiting: .zero) }
        let since = pendingBytes.tookOrWaitsSince.load(ordering: .relaxed)
        let now = NIODeadline.now().uptimeNanoseconds
        return OutputPacing.Queue(pending: pending, waiting: .nanoseconds(Int64(now > since ? now - since : 0)))
    }

    /// Sends `item` in the caller's task when nothing is queued or being sent, and returns `true`: one hop
    /// between tasks less than through the sender. Otherwise sends nothing and returns `false` (the caller
    /// then queues it). Meant for a session's only client, which nobody else queues output for meanwhile.
    func sendIfIdle(_ item: PTYOutput) async -> Bool {
        let size = item.byteCount
        guard size > 0, pendingBytes.bytes.compareExchange(expected: 0, desired: size, ordering: .acquiringAndReleasing).exchanged else {
            return false
        }
        do {
            try await deliver(item)
        } catch {
            queue.finish(droppingBuffered: true)
            await report(false)
            return true
        }
        pendingBytes.bytes.subtract(size, ordering: .relaxed)
        pendingBytes.took()
        await report(true)
        return true
    }

    /// Queues output for the client; after ``stop()`` it is dropped.
    func enqueue(_ item: PTYOutput) {
        guard queue.append(item) else { return }
        // A client that had nothing queued starts waiting now, not when it last took something.
        if pendingBytes.bytes.wrappingAdd(item.byteCount, ordering: .relaxed).oldValue == 0 { pendingBytes.took() }
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
