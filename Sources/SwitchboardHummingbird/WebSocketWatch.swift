import HummingbirdWebSocket
import NIOCore
import NIOWebSocket
import SwitchboardCore
import Synchronization

/// Switchboard's one handler in the pipeline of an upgraded connection, right after the frame decoder: it
/// pings the client with empty payloads, and it makes a graceful shutdown of the server close the connection
/// with `1001 Server shutting down`. One handler rather than one per duty, because every frame in and out
/// passes through each handler of the pipeline.
///
/// **Pings.** HummingbirdWebSocket's own pings carry 16 random bytes, which line clients such as wsdump print
/// as a line of bytes. These carry nothing. Placed after the frame decoder, the watch sees the pongs
/// (Hummingbird keeps them from the inbound stream) and every close frame; it is pinged on the ticks of its
/// event loop's ``PingRound``, so an idle connection has neither a task nor a timer of its own for it. A
/// client that has not answered by the next ping is closed with 1001. Pinging stops once either side has sent
/// a close frame.
///
/// **The close on shutdown.** HummingbirdWebSocket 2.8 closes every WebSocket with `1000` (normal closure)
/// when the server it runs in shuts down gracefully, however the application is run (`runService()`,
/// `addServices`, a `ServiceGroup` of your own). Once the watch has heard of the shutdown
/// (``CloseState/serverIsShuttingDown()``: a ``ServerShutdownNotice`` from the connection's graceful-shutdown
/// handler, which ``DeadlineGuardedChannel`` registers for the connection's life, or, for a shutdown that began
/// before the watch was installed, the setup's own look), a close with code 1000 that neither Switchboard
/// (``WebSocketTransport``) nor the client started is that one: the watch rewrites it to 1001 and notes the
/// shutdown for the connection before the frame leaves, so the client and the terminal learn the same reason.
/// Both graceful-shutdown handlers run in one pass, Switchboard's first (it was registered first), which hands
/// the notice to the connection's event loop; Hummingbird's close is written from a task it starts, which in
/// practice reaches the event loop after the notice. Should it ever come first, the client gets 1000 and the
/// terminal `.disconnected`: consistent, if plainer. Without the flag, a
/// client's own close that reached the server before the watch was installed (Autobahn's 7.7 cases send one
/// right after the upgrade) would have been taken for the shutdown.
///
/// **A close always ends.** A close frame waits behind everything sent before it, so a client that reads
/// nothing never gets one; and Hummingbird bounds a close by its close timeout only once the connection's
/// handler has returned and its own close frame is out. A close begun elsewhere (a ping unanswered, the
/// client's close frame, which Hummingbird answers in the reader's way, input that fails the connection) would
/// hold the connection, its terminal (a PTY's program) and its slot for ever, and a graceful shutdown until
/// the watchdog. So once such a close has begun, the connection ends within the close timeout
/// (``SwitchboardServerConfiguration/closeTimeout``): if it is still open then, the watch closes the channel;
/// and once the server shuts down, within ``shutdownCloseLimit`` (or the close timeout, if shorter). A close
/// of Switchboard's own (``WebSocketTransport``) is bounded by Hummingbird's timeout, since the handler then
/// returns.
///
/// **Frames at once.** Its ``DirectWriter`` writes frames into the pipeline from any thread, past
/// Hummingbird's writer and its task (``WebSocketTransport/sendAtOnce(utf8Text:)``): a PTY's event loop hands
/// a keystroke's echo straight to the connection's, and every message that fits in a frame goes this way
/// while the channel is writable, compressed first by its sender on a connection that compresses
/// (``WebSocketTransport/send(_:)``). Such a frame is refused once a close frame has been written, and
/// dropped if one was written after it was handed over. A caller on the connection's event loop that was
/// refused because the channel could not write may ask to be called back once it can
/// (``DirectWriter/callWhenWritable(_:)``): a connection's own PTY program then waits for a slow client on
/// that event loop, with no hand-over to another thread.
///
/// **Messages sent together.** Hummingbird's writer hands every frame to the event loop with a flush of its
/// own: the Shell's answer to a command (status line, entities, location) cost three socket writes. While
/// the transport sends messages together (``DirectWriter/beginSendingTogether()``), the direct writer holds
/// their frames and hands them to the event loop in one task when the run ends (one hop where each message
/// took one), and the watch holds their flushes back and makes one then, so they leave in one `writev`. It
/// holds no flush while the channel is not writable (the writer would wait for a flush that never comes) and
/// never past the run's end; a close of the channel flushes first. A message that goes through Hummingbird's
/// writer instead (too large, or refused) first hands the held frames over, so that it follows them.
final class WebSocketWatch: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    /// What the connection's transport and the watch share: about its close, and the runs of messages sent
    /// together.
    final class CloseState: Sendable {
        /// Set by ``WebSocketTransport`` before it sends a close of Switchboard's own.
        let closingItself = Atomic<Bool>(false)
        /// Set when the client's close frame arrived before any close was sent.
        let clientClosed = Atomic<Bool>(false)
        /// Set once the server is shutting down (``serverIsShuttingDown()``).
        let serverShuttingDown = Atomic<Bool>(false)
        /// Set when the watch turned the server's close into 1001.
        let closedForShutdown = Atomic<Bool>(false)
        /// The runs of messages sent together begun and not yet ended on the event loop.
        let runsSentTogether = Atomic<Int>(0)
        /// Set when a close frame has been written: ``DirectWriter`` then refuses, so that a message sent
        /// after it fails in Hummingbird's writer as it should, rather than being dropped.
        let closeFrameWritten = Atomic<Bool>(false)

        /// Called when the server's graceful shutdown has begun (``ServerShutdownNotice``).
        func serverIsShuttingDown() { serverShuttingDown.store(true, ordering: .releasing) }
    }

    /// Writes text frames into the pipeline from any thread without waiting, while the connection can take
    /// them: it refuses (and writes nothing) when the channel is not writable, or when bytes handed over and
    /// not yet written would with this frame exceed ``inFlightLimit``, so what it holds is bounded (one frame
    /// is taken whatever its size when nothing else is in flight: the gathered output of a PTY is often a
    /// little over 64 KiB). The frames are not compressed: with
    /// permessage-deflate a message may go uncompressed (RFC 7692, section 6).
    final class DirectWriter: Sendable {
        /// The most bytes handed over and not yet written, unless one frame alone is larger.
        static let inFlightLimit = 64 << 10
        private let channel: any Channel
        private let watch: NIOLoopBound<WebSocketWatch>
        private let state: CloseState
        private let inFlight = Atomic<Int>(0)
        /// The frames of the runs of messages sent together, held until a run ends and then handed to the
        /// event loop in one task (one hop for the Shell's three messages, not three).
        private let batch = Mutex(Batch())
        /// The connection channel's event loop.
        var eventLoop: any EventLoop { channel.eventLoop }

        /// The runs begun and not yet ended, and the frames they hold.
        private struct Batch {
            var openRuns = 0
            var frames: [WebSocketFrame] = []
            var bytes = 0
        }

        fileprivate init(channel: any Channel, watch: WebSocketWatch, state: CloseState) {
            self.channel = channel
            self.watch = NIOLoopBound(watch, eventLoop: channel.eventLoop)
            self.state = state
        }

        /// Begins a run of messages sent together: from now on the frames handed over wait for the run's end,
        /// and the watch holds back the flushes of the frames that reach it (see the watch's "Messages sent
        /// together").
        func beginSendingTogether() {
            state.runsSentTogether.add(1, ordering: .relaxed)
            batch.withLock { $0.openRuns += 1 }
        }

        /// Ends a run: hands the frames held to the event loop, where the watch writes them and makes the
        /// flush it held back. A run begun in the meantime holds only the frames that come after.
        func endSendingTogether() {
            batch.withLock { batch in
                batch.openRuns -= 1
                // Inside the lock: a frame handed over after this one reaches the event loop after it.
                hand(&batch) { self.state.runsSentTogether.subtract(1, ordering: .relaxed) }
            }
        }

        /// Hands the frames held so far to the event loop, before a message that goes through Hummingbird's
        /// writer (which reaches the event loop later, so it follows them).
        func handOverHeldFrames() {
            batch.withLock { batch in
                guard !batch.frames.isEmpty else { return }
                hand(&batch) {}
            }
        }

        /// The event loop's task for the frames held: writes them, runs `then`, and makes a held flush.
        private func hand(_ batch: inout Batch, then: @escaping @Sendable () -> Void) {
            let (frames, bytes) = (batch.frames, batch.bytes)
            (batch.frames, batch.bytes) = ([], 0)
            channel.eventLoop.execute {
                let watch = self.watch.value
                for frame in frames { watch.writeDirect(frame) }
                self.inFlight.subtract(bytes, ordering: .relaxed)
                then()
                watch.releaseHeldFlush()
            }
        }

        /// The server began to shut down before the watch was installed, so the watch never heard of it: from now
        /// on it acts as if it had (``WebSocketWatch/shutdownBegan()``).
        func serverIsShuttingDown() {
            state.serverIsShuttingDown()
            channel.eventLoop.execute { self.watch.value.shutdownBegan() }
        }

        /// Hands `bytes` over as one uncompressed text frame (UTF-8 of whole characters, checked by the caller);
        /// returns whether it did.
        func writeText(_ bytes: ByteBuffer) -> Bool { write(WebSocketFrame(fin: true, opcode: .text, data: bytes)) }

        /// After ``write(_:)`` refused for want of room, asks for `resume` to be called once, on the event
        /// loop, when there is room again: when the channel can write again (or closes, or the watch leaves the
        /// pipeline), or, when it was refused for the bytes handed over and not yet written, right after the
        /// tasks that write them. Returns whether it will be. Only on the channel's event loop, and only while
        /// the channel is open and has no close frame written: otherwise, and when it was refused for another
        /// reason, it returns `false` (and the caller's slower way sends the message, which fails as it
        /// should on a closed connection).
        func callWhenWritable(_ resume: @escaping @Sendable () -> Void) -> Bool {
            guard channel.eventLoop.inEventLoop, channel.isActive, !state.closeFrameWritten.load(ordering: .relaxed) else { return false }
            guard channel.isWritable else { return watch.value.callWhenWritable(resume) }
            guard inFlight.load(ordering: .relaxed) > 0 else { return false }
            channel.eventLoop.execute(resume)
            return true
        }

        /// Hands `frame` over, the one frame of a whole message: text (UTF-8 of whole characters, checked by
        /// the caller) or binary, compressed (RSV1) or not; returns whether it did. It refuses once the channel
        /// has closed or a close frame has been written; before it refuses, it hands over the frames it holds,
        /// so that the message, sent through Hummingbird's writer instead, follows them.
        func write(_ frame: WebSocketFrame) -> Bool {
            let size = frame.data.readableBytes
            guard channel.isWritable, channel.isActive, !state.closeFrameWritten.load(ordering: .relaxed) else {
                handOverHeldFrames()
                return false
            }
            let (before, after) = inFlight.wrappingAdd(size, ordering: .relaxed)
            guard before == 0 || after <= Self.inFlightLimit else {
                inFlight.subtract(size, ordering: .relaxed)
                handOverHeldFrames()
                return false
            }
            batch.withLock { batch in
                guard batch.openRuns == 0 else {
                    if batch.frames.isEmpty { batch.frames.reserveCapacity(4) }
                    batch.frames.append(frame)
                    batch.bytes += size
                    return
                }
                // Inside the lock, as the end of a run hands its frames over: the order of the event loop's
                // tasks is the order of the frames.
                channel.eventLoop.execute {
                    self.watch.value.writeDirect(frame)
                    self.inFlight.subtract(size, ordering: .relaxed)
                }
            }
            return true
        }
    }

    static let shutdownReason = "Server shutting down"
    /// How long a connection may take to end once the server has begun to shut down: a client that has not
    /// taken its close frame by then (it reads nothing) is disconnected, well within the shutdown's own limit.
    static let shutdownCloseLimit = TimeAmount.seconds(2)
    private let state: CloseState
    /// How long a close may take, from its start until the connection ends.
    private let closeTimeout: TimeAmount
    /// When the connection is closed if it has not ended by then, once a close has begun.
    private var endDeadline: (at: NIODeadline, task: Scheduled<Void>)?
    /// The rounds that ping the connections; `nil`: no pings.
    private let pings: PingRounds?
    /// Closes the connection for a ping that went unanswered (through Hummingbird's writer, so that its
    /// close handshake knows of it).
    private let closeUnanswered: @Sendable () -> Void
    /// The round this watch is pinged in, while it is.
    private var round: PingRound?
    /// The watches that joined the round before and after this one (see ``PingRound``). The round holds its
    /// watches through the first, so a watch that failed to leave would be kept, never left dangling.
    var olderInRound: WebSocketWatch?
    unowned(unsafe) var newerInRound: WebSocketWatch?
    /// Which of the round's lists this watch is in (see ``PingRound``).
    var slotInRound = 0
    /// Whether a ping is out and its pong has not come back.
    private var awaitingPong = false
    /// Whether a close frame has been written (frames written at once are dropped from then on).
    private var closeWritten = false
    /// The watch's place in the pipeline, while it is in it.
    private var context: ChannelHandlerContext?
    /// Whether a flush is held back until a run of messages sent together ends.
    private var flushHeld = false
    /// The queue of the data frames read (see ``InboundFrameQueue``).
    private var inboundQueue: InboundFrameQueue?
    /// Whether the first frame of a message may have RSV1 (permessage-deflate was negotiated).
    private var compressedInput = false
    /// Whether a read of the socket is held while the queue is full.
    private var readHeld = false
    /// Set once a frame failed the connection (a reserved bit or opcode): what follows goes to Hummingbird's
    /// stream, which answers nothing more.
    private var inputFailed = false
    /// The payload of the latest ping not answered while the channel could not write.
    private var pongOwed: ByteBuffer?
    /// Who waits for the channel to write again (``DirectWriter/callWhenWritable(_:)``): one at most, the
    /// connection's own PTY.
    private var writableWaiter: (@Sendable () -> Void)?

    private init(
        state: CloseState, pings: PingRounds?, closeTimeout: TimeAmount, closeUnanswered: @escaping @Sendable () -> Void
    ) {
        self.state = state
        self.pings = pings
        self.closeTimeout = closeTimeout
        self.closeUnanswered = closeUnanswered
    }

    /// Installs the watch on an upgraded channel, on its event loop, and returns its writer of frames at
    /// once; throws when the pipeline is not the one expected. With no `pings` it does not ping; a close that
    /// has begun ends the connection within `closeTimeout`.
    ///
    /// With `queueingInput` the watch queues the data frames it reads for the connection's reader and answers
    /// pings itself, and returns the queue (see ``InboundFrameQueue``); with `compressedInput` (permessage-deflate
    /// was negotiated) a message's first frame may have RSV1, and the reader inflates it (``DeflateReceiver``).
    static func install(
        on channel: any Channel, state: CloseState, pings: PingRounds?, queueingInput: Bool, compressedInput: Bool = false,
        closeTimeout: TimeAmount = .seconds(10), closeUnanswered: @escaping @Sendable () -> Void
    ) throws -> (DirectWriter, InboundFrameQueue?) {
        let operations = channel.pipeline.syncOperations
        let decoder = try operations.handler(type: ByteToMessageHandler<WebSocketFrameDecoder>.self)
        let watch = WebSocketWatch(state: state, pings: pings, closeTimeout: closeTimeout, closeUnanswered: closeUnanswered)
        watch.compressedInput = compressedInput
        try operations.addHandler(watch, position: .after(decoder))
        // The guard of the first moments (it is after the watch now) leaves; the watch fails the connection
        // for the frame without a mask it found, after the frames before it, and starts as failed when
        // Hummingbird's stream got a frame that fails the connection there (see ``EarlyFrameGuard``).
        var sawUnmaskedFrame = false
        if let early = try? operations.handler(type: EarlyFrameGuard.self) {
            sawUnmaskedFrame = early.sawUnmaskedFrame
            if early.passedAFailingFrame(compressedInput: compressedInput) { watch.inputFailedInHummingbirdsStream() }
            operations.removeHandler(early, promise: nil)
        }
        defer { if sawUnmaskedFrame { watch.refuseUnmaskedFrame() } }
        guard queueingInput, let context = watch.context else { return (DirectWriter(channel: channel, watch: watch, state: state), nil) }
        let queue = InboundFrameQueue(watch: watch, eventLoop: channel.eventLoop)
        watch.inboundQueue = queue
        // After the frames that reached Hummingbird's stream before the watch was in the pipeline.
        // (Hummingbird's stream takes in what was read at the read's completion.)
        context.fireChannelRead(watch.wrapInboundOut(WebSocketFrame(fin: true, opcode: .binary, data: queue.sentinel)))
        context.fireChannelReadComplete()
        return (DirectWriter(channel: channel, watch: watch, state: state), queue)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        guard let round = pings?.round(on: context.eventLoop) else { return }
        self.round = round
        round.join(self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopPinging()
        cancelEndDeadline()
        releaseHeldFlush()
        self.context = nil
        resumeWritableWaiter()
        // The queue holds the watch (to answer pings and resume reads on the event loop): the channel is gone,
        // so nothing more is queued, and letting go of the queue here breaks the cycle.
        inboundQueue = nil
    }

    /// Writes a frame of ``DirectWriter``, unless a close frame has gone out or the watch has left the pipeline;
    /// its flush is held back like any other while messages are sent together.
    fileprivate func writeDirect(_ frame: WebSocketFrame) {
        guard !closeWritten, let context else { return }
        context.write(wrapOutboundOut(frame), promise: nil)
        flush(context: context)
    }

    /// Holds the flush back while messages are sent together and the channel is writable.
    func flush(context: ChannelHandlerContext) {
        if state.runsSentTogether.load(ordering: .relaxed) > 0, context.channel.isWritable {
            flushHeld = true
            return
        }
        flushHeld = false
        context.flush()
    }

    /// Closing the input alone is what HummingbirdWebSocket does to a connection whose task is cancelled, and
    /// what ends the connection then: its wait has no cancellation handler of its own (see
    /// `UpgradedConnection.serve`). A TLS handler cannot close input alone (`operationUnsupported`), so there
    /// the connection is closed whole.
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        releaseHeldFlush()
        guard mode == .input else { return context.close(mode: mode, promise: promise) }
        let channel = context.channel
        let inputClosed = context.eventLoop.makePromise(of: Void.self)
        inputClosed.futureResult.whenFailure { error in
            if let error = error as? ChannelError, error == .operationUnsupported { channel.close(promise: nil) }
        }
        inputClosed.futureResult.cascade(to: promise)
        context.close(mode: .input, promise: inputClosed)
    }

    /// Makes the flush held back, if there is one.
    fileprivate func releaseHeldFlush() {
        guard flushHeld, let context else { return }
        flushHeld = false
        context.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopPinging()
        cancelEndDeadline()
        context.fireChannelInactive()
        inboundQueue?.inputEnded()
        inboundQueue?.append(.consultHummingbird)
        resumeWritableWaiter()
    }

    /// Keeps `resume` to be called when the channel can write again (``DirectWriter/callWhenWritable(_:)``);
    /// `false` once the watch has left the pipeline. A waiter it replaces is called first, on the next tick.
    fileprivate func callWhenWritable(_ resume: @escaping @Sendable () -> Void) -> Bool {
        guard let context else { return false }
        if let replaced = writableWaiter { context.eventLoop.execute(replaced) }
        writableWaiter = resume
        return true
    }

    /// Calls who waits for the channel to write again, if anyone does.
    private func resumeWritableWaiter() {
        guard let resume = writableWaiter else { return }
        writableWaiter = nil
        resume()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.fireErrorCaught(error)
        inboundQueue?.append(.consultHummingbird)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ServerShutdownNotice {
            shutdownBegan()
            return
        }
        context.fireUserInboundEventTriggered(event)
        if let event = event as? ChannelEvent, case .inputClosed = event {
            inboundQueue?.inputEnded()
            inboundQueue?.append(.consultHummingbird)
        }
    }

    /// Hummingbird's stream failed the connection for a frame it read before the watch joined: what follows
    /// goes its way, as after a frame the watch found failing itself.
    private func inputFailedInHummingbirdsStream() {
        inputFailed = true
        endWithinCloseTimeout()
    }

    /// Fails the connection for a frame without a mask, once: nothing more is taken, the reader refuses it in
    /// its turn (1002), and the connection ends within the close timeout.
    private func refuseUnmaskedFrame() {
        guard !inputFailed else { return }
        inputFailed = true
        stopPinging()
        endWithinCloseTimeout()
        inboundQueue?.append(.unmaskedFrame)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        // Every frame from a client is masked, or the server closes the connection (RFC 6455 §5.1): a frame
        // without a mask is not passed on, and the reader refuses it in its turn (1002). Without a reader that
        // takes the queue, the connection ends at the close timeout.
        if frame.maskKey == nil { return refuseUnmaskedFrame() }
        switch frame.opcode {
        case .pong:
            awaitingPong = false
            if inboundQueue != nil { return }
        case .connectionClose:
            stopPinging()
            state.clientClosed.store(true, ordering: .releasing)
            endWithinCloseTimeout()
        case .text, .binary, .continuation:
            guard let inboundQueue, !inputFailed else { break }
            // A reserved bit fails the connection (the reader refuses the frame in its turn): what follows
            // goes Hummingbird's way, which answers nothing more.
            if frame.rsv2 || frame.rsv3 || (frame.rsv1 && (!compressedInput || frame.opcode == .continuation)) {
                inputFailed = true
                endWithinCloseTimeout()
            }
            let unmasked = WebSocketFrame(
                fin: frame.fin, rsv1: frame.rsv1, rsv2: frame.rsv2, rsv3: frame.rsv3, opcode: frame.opcode,
                data: frame.unmaskedData)
            if inboundQueue.append(.frame(unmasked)) { return }
        case .ping:
            guard let inboundQueue, !inputFailed else { break }
            // Answered at once while the reader is parked with nothing queued; otherwise in its turn, after
            // the input before it.
            if inboundQueue.pingCanBeAnsweredAtOnce() {
                answerPing(frame.unmaskedData)
                return
            }
            if inboundQueue.append(.ping(frame.unmaskedData)) { return }
        default:
            // A frame of a reserved opcode fails the connection.
            inputFailed = inboundQueue != nil
            endWithinCloseTimeout()
        }
        context.fireChannelRead(data)
        // A close frame, or a frame of a reserved opcode: Hummingbird's stream answers it, in its turn.
        if frame.opcode != .pong { inboundQueue?.append(.consultHummingbird) }
    }

    /// Answers a ping with its payload, as Hummingbird would, unless a close frame has gone out or come in.
    /// While the channel cannot write (a client that sends pings and reads nothing), only the latest ping is
    /// kept and answered once it can (RFC 6455 §5.5.3 allows answering only the most recent): what a ping
    /// flood holds stays bounded.
    func answerPing(_ payload: ByteBuffer) {
        guard let context, !closeWritten, !state.clientClosed.load(ordering: .relaxed) else { return }
        guard context.channel.isWritable else {
            pongOwed = payload
            return
        }
        flushHeld = false
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: payload)), promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        context.fireChannelWritabilityChanged()
        guard context.channel.isWritable else { return }
        if let payload = pongOwed {
            pongOwed = nil
            answerPing(payload)
        }
        resumeWritableWaiter()
    }

    func read(context: ChannelHandlerContext) {
        if let inboundQueue, inboundQueue.readsPaused {
            readHeld = true
            return
        }
        context.read()
    }

    /// The reader took the queue below half: the socket's read held, if any, goes on.
    func resumeHeldRead() {
        guard readHeld, let context else { return }
        readHeld = false
        context.read()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = unwrapOutboundIn(data)
        guard frame.opcode == .connectionClose else {
            context.write(data, promise: promise)
            return
        }
        closeWritten = true
        state.closeFrameWritten.store(true, ordering: .relaxed)
        stopPinging()
        guard state.serverShuttingDown.load(ordering: .acquiring), !state.closingItself.load(ordering: .acquiring),
            !state.clientClosed.load(ordering: .acquiring)
        else {
            context.write(data, promise: promise)
            return
        }
        var payload = frame.unmaskedData
        guard payload.readWebSocketErrorCode() == .normalClosure else {
            context.write(data, promise: promise)
            return
        }
        state.closedForShutdown.store(true, ordering: .releasing)
        var replacement = context.channel.allocator.buffer(capacity: 2 + Self.shutdownReason.utf8.count)
        replacement.write(webSocketErrorCode: .goingAway)
        replacement.writeString(Self.shutdownReason)
        context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: replacement)), promise: promise)
    }

    /// On a tick of the round: pings, or closes the connection when the last ping went unanswered.
    func pingOrClose() {
        guard round != nil, let context else { return }
        if awaitingPong {
            stopPinging()
            endWithinCloseTimeout()
            closeUnanswered()
            return
        }
        awaitingPong = true
        flushHeld = false
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .ping, data: ByteBuffer())), promise: nil)
    }

    private func stopPinging() {
        round?.leave(self)
        round = nil
    }

    // MARK: A close always ends

    /// The server has begun to shut down: the connection ends within ``shutdownCloseLimit``.
    fileprivate func shutdownBegan() {
        state.serverIsShuttingDown()
        endWithinCloseTimeout()
    }

    /// A close has begun: the connection ends within the close timeout, or sooner once the server shuts down.
    private func endWithinCloseTimeout() {
        endWithin(state.serverShuttingDown.load(ordering: .acquiring) ? min(closeTimeout, Self.shutdownCloseLimit) : closeTimeout)
    }

    /// Closes the channel `limit` from now if it is still open then; a deadline set before that is sooner stays.
    private func endWithin(_ limit: TimeAmount) {
        guard let context, context.channel.isActive else { return }
        let at = NIODeadline.now() + limit
        if let deadline = endDeadline, deadline.at <= at { return }
        endDeadline?.task.cancel()
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        endDeadline = (at, context.eventLoop.scheduleTask(deadline: at) { loopBound.value.endNow() })
    }

    /// The close did not complete in time: the channel is closed, which ends the connection's input, so its
    /// reader and terminal end, and fails what waits to be written. Beneath the encryption, if there is one:
    /// TLS would first send its close notice behind everything else and wait 5 s for the client's.
    private func endNow() {
        endDeadline = nil
        guard let context, context.channel.isActive else { return }
        releaseHeldFlush()
        let beneathEncryption = try? context.pipeline.syncOperations.context(name: encryptionHandlerName)
        (beneathEncryption ?? context).close(promise: nil)
    }

    private func cancelEndDeadline() {
        endDeadline?.task.cancel()
        endDeadline = nil
    }
}
