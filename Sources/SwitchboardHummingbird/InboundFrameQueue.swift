import DequeModule
import NIOCore
import NIOWebSocket
import SwitchboardCore
import Synchronization

/// The frames a connection receives, queued by the ``WebSocketWatch`` on the event loop for the connection's
/// reader, which may leave while the queue is empty (``InboundParking``): an idle connection then has no task
/// waiting for its input. With permessage-deflate the frames are queued as they came, and the reader inflates
/// those of compressed messages (``DeflateReceiver``).
///
/// Hummingbird's inbound stream is read by a task that waits in it for the connection's life; its frames and
/// the deepest handler that task ran stay in the task's memory. Here the watch answers pings itself and queues
/// the data frames (unmasked); close frames, frames of a reserved opcode, errors and the end still go to
/// Hummingbird's stream, which answers them, and a ``Item/consultHummingbird`` in the queue tells the reader,
/// in order, to read that stream once.
///
/// **The frames that came first.** A client may send frames right after its upgrade request, before the watch
/// is in the pipeline; those are in Hummingbird's stream. The watch follows them with a frame of
/// ``sentinel`` bytes (random, one per connection): the reader reads Hummingbird's stream up to it, then this
/// queue, and may park only from then on.
///
/// **Bounded.** Once ``pauseBytes`` or ``pauseFrames`` are queued the watch stops reading from the socket,
/// and the reader resumes the reads when it has taken the queue below half of both.
final class InboundFrameQueue: InboundParking, TaskExecutor, Sendable {
    /// What the reader takes, in the order the frames arrived.
    enum Item: Sendable {
        /// A data frame (text, binary or continuation), unmasked.
        case frame(WebSocketFrame)
        /// A ping with this payload, to answer in its turn (``answerPing(_:)``).
        case ping(ByteBuffer)
        /// Hummingbird's stream holds what comes next (a close frame, an error, the end).
        case consultHummingbird
        /// A frame came without a mask, which fails the connection (RFC 6455 §5.1).
        case unmaskedFrame
    }

    static let pauseBytes = 64 << 10
    static let pauseFrames = 32

    /// The sixteen bytes of the frame the watch puts into Hummingbird's stream after the frames that came
    /// first, as two words (a buffer of them would cost every connection an allocation).
    private let sentinelWords: (UInt64, UInt64)

    private struct State {
        var items = Deque<Item>()
        var bytes = 0
        /// The reader waiting inside a message for its next frame.
        var waiter: CheckedContinuation<Item?, Never>?
        /// The parked reader's wake-up.
        var wake: (@Sendable () -> Void)?
        /// Called when an item is queued while the reader runs a handler (``callWhenInputArrives(_:)``).
        var inputArrived: (@Sendable () -> Void)?
        var sentinelPassed = false
        var readsPaused = false
        var ended = false
        /// Whether the connection's input has ended (``inputEnded()``).
        var inputEnded = false
        /// The account whose waits for memory end with the input (``endsMemoryWaitsAtTheInputsEnd(of:)``).
        var memoryAccount: InboundAccount?
    }

    private let state = Mutex(State())
    /// The connection's event loop, where the watch resumes the socket's reads and answers pings.
    private let eventLoop: any EventLoop
    private let watch: NIOLoopBound<WebSocketWatch>

    init(watch: WebSocketWatch, eventLoop: any EventLoop) {
        var generator = SystemRandomNumberGenerator()
        sentinelWords = (generator.next(), generator.next())
        self.eventLoop = eventLoop
        self.watch = NIOLoopBound(watch, eventLoop: eventLoop)
    }

    /// The payload of the frame that follows the frames that came first.
    var sentinel: ByteBuffer {
        var bytes = ByteBuffer()
        bytes.writeMultipleIntegers(sentinelWords.0, sentinelWords.1)
        return bytes
    }

    /// Whether a frame's payload is ``sentinel``.
    func isSentinel(_ payload: ByteBuffer) -> Bool {
        payload.readableBytes == 16
            && payload.getInteger(at: payload.readerIndex, as: UInt64.self) == sentinelWords.0
            && payload.getInteger(at: payload.readerIndex + 8, as: UInt64.self) == sentinelWords.1
    }

    /// Answers a ping with its payload (on the event loop), unless the connection is closing.
    func answerPing(_ payload: ByteBuffer) {
        let watch = watch
        eventLoop.execute { watch.value.answerPing(payload) }
    }

    /// Resumes the socket's reads the watch held (on the event loop).
    private func resumeReads() {
        let watch = watch
        eventLoop.execute { watch.value.resumeHeldRead() }
    }

    // MARK: The watch's side (the event loop)

    /// Queues an item for the reader, waking it if it waits or is parked; returns `false` once the reading
    /// has ended (the frame then goes to Hummingbird's stream). A full queue sets ``readsPaused``.
    @discardableResult
    func append(_ item: Item) -> Bool {
        let size = if case .frame(let frame) = item { frame.data.readableBytes } else { 0 }
        let (appended, resume, wake) = state.withLock { state -> (Bool, CheckedContinuation<Item?, Never>?, (@Sendable () -> Void)?) in
            guard !state.ended else { return (false, nil, nil) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (true, waiter, nil)
            }
            state.items.append(item)
            state.bytes += size
            // A parked reader is woken; a reader in a handler that asked is told.
            let wake = state.wake ?? state.inputArrived
            state.wake = nil
            state.inputArrived = nil
            if state.bytes >= Self.pauseBytes || state.items.count >= Self.pauseFrames { state.readsPaused = true }
            return (true, nil, wake)
        }
        resume?.resume(returning: item)
        wake?()
        return appended
    }

    /// The connection's input has ended (the channel closed, or the client closed its side): a read of the
    /// connection that waits for memory gives up (``InboundAccount/inputEnded()``).
    func inputEnded() {
        let account = state.withLock { state in
            state.inputEnded = true
            return state.memoryAccount.take()
        }
        account?.inputEnded()
    }

    func endsMemoryWaitsAtTheInputsEnd(of account: InboundAccount) {
        let ended = state.withLock { state in
            if !state.inputEnded { state.memoryAccount = account }
            return state.inputEnded
        }
        if ended { account.inputEnded() }
    }

    /// Whether a ping can be answered at once: the reader is parked and nothing is queued ahead of it. A
    /// ping behind input is answered in its turn, as Hummingbird's stream does, so that a ping after a frame
    /// that fails the connection goes unanswered.
    func pingCanBeAnsweredAtOnce() -> Bool {
        state.withLock { $0.wake != nil && $0.items.isEmpty && !$0.ended }
    }

    /// Whether the watch holds the socket's reads.
    var readsPaused: Bool { state.withLock { $0.readsPaused } }

    // MARK: The reader's side

    /// The reader has read Hummingbird's stream up to ``sentinel``: it reads the queue from now on.
    func sentinelPassed() { state.withLock { $0.sentinelPassed = true } }

    /// The next item, waiting for it; `nil` when the reading has ended or the task is cancelled.
    func take() async -> Item? {
        let (item, resume, ended) = state.withLock { state in
            let (item, resume) = Self.pop(&state)
            return (item, resume, state.ended)
        }
        if resume { resumeReads() }
        if let item { return item }
        if ended { return nil }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Item?, Never>) in
                let (ready, item, resume) = state.withLock { state -> (Bool, Item?, Bool) in
                    let (item, resume) = Self.pop(&state)
                    if item != nil || state.ended || Task.isCancelled { return (true, item, resume) }
                    state.waiter = continuation
                    return (false, nil, false)
                }
                if resume { resumeReads() }
                if ready { continuation.resume(returning: item) }
            }
        } onCancel: {
            state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }?.resume(returning: nil)
        }
    }

    /// Takes the first item, if any, and whether the socket's reads are to resume now.
    private static func pop(_ state: inout State) -> (Item?, resume: Bool) {
        guard let item = state.items.popFirst() else { return (nil, false) }
        if case .frame(let frame) = item { state.bytes -= frame.data.readableBytes }
        guard state.readsPaused, state.bytes < pauseBytes / 2, state.items.count < pauseFrames / 2 else { return (item, false) }
        state.readsPaused = false
        return (item, true)
    }

    func parkUnlessReady(wake: @escaping @Sendable () -> Void) -> Bool {
        state.withLock { state in
            guard state.sentinelPassed, !state.ended, state.items.isEmpty else { return false }
            state.wake = wake
            return true
        }
    }

    /// The connection's event loop, as the executor of a reader that resumes for a quick terminal
    /// (``QuickInputTerminal``): the watch wakes the reader on the event loop, so its job runs there, after
    /// the read that woke it, with no other thread woken.
    var readerExecutor: (any TaskExecutor)? { self }

    /// Whether the caller runs on the connection's event loop (a reader for a quick terminal).
    var runsOnItsEventLoop: Bool { eventLoop.inEventLoop }

    /// Runs a job of the reader's on the connection's event loop.
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }

    func callWhenInputArrives(_ call: @escaping @Sendable () -> Void) -> Bool {
        state.withLock { state in
            guard state.items.isEmpty, !state.ended else { return false }
            state.inputArrived = call
            return true
        }
    }

    func stopCallingWhenInputArrives() {
        state.withLock { $0.inputArrived = nil }
    }

    func readingEnded() {
        let (resume, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Item?, Never>?) in
            state.ended = true
            state.items.removeAll()
            state.bytes = 0
            state.wake = nil
            state.inputArrived = nil
            defer { state.waiter = nil }
            let resume = state.readsPaused
            state.readsPaused = false
            return (resume, state.waiter)
        }
        waiter?.resume(returning: nil)
        if resume { resumeReads() }
    }
}
