import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The system's `read` and `close`, which the handler's `read(context:)` and `close(context:mode:promise:)` hide.
private func readDescriptor(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int { read(descriptor, buffer, count) }
private func closeDescriptor(_ descriptor: Int32) { _ = close(descriptor) }

/// Joins a PTY's reads while the program writes faster than one read takes, so that its output leaves as
/// fewer, larger messages instead of one message per read.
///
/// Linux hands a PTY's output over in reads of at most 4,095 bytes into NIO's buffer, and each read used to
/// become one WebSocket message. A message costs the same hand-offs between threads whatever its size, so
/// at full speed that cost, not the bytes, set the pace. A read of at least ``bulkRead`` bytes means the
/// program is writing in bulk and more is on its way: the handler holds the bytes until the next read (at
/// most ``holdLimit`` later, and up to ``gatherLimit`` bytes). A smaller read (a keystroke's echo, a prompt,
/// the last piece of a burst) passes everything on at once, so interactive output is not held back; a burst
/// that ends on a bulk read waits at most ``holdLimit``.
///
/// Given its own descriptor of the PTY's master, the handler reads on by itself after a bulk read, straight
/// into the gathered bytes, until a read is not bulk, the master has nothing ready or the limit is reached.
/// NIO stops after every read that does not fill its buffer, and a 4,095-byte read never fills NIO's
/// 4,096-byte one, so each read used to cost a round through `epoll_wait` and the channel's read path, and a
/// copy from NIO's buffer into the gathered one; the program's next bytes are usually ready at once, and
/// into the larger buffer a read brings more than 4,095 bytes when the program refills the PTY meanwhile.
///
/// When ``DirectOutput`` has it wait for room in the client's connection, the handler holds what it gathered
/// and lets no read of the PTY through until it is called back on the channel's event loop; then it offers
/// the bytes again, and reads on once they are gone. The program is held back by the PTY's full buffer, as
/// when the session's task waited for the client, but the output never leaves the event loop. An error, the
/// end of the output or an event passes what is held to the session first, so that nothing waits behind it.
final class PTYReadGatherer: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The most a Linux PTY gives in one read (its line discipline's buffer, less one byte).
    static let fullRead = 4095
    /// The least a read must bring to count as bulk output, with more on its way. A keystroke's echo and a
    /// prompt are far smaller; a program writing as fast as it can fills most reads (a PTY refills its
    /// buffer while it is read, so reads of streamed lines are often 2–4 KiB, not 4,095 bytes).
    static let bulkRead = 1024
    /// The most output joined into one message.
    static let gatherLimit = 64 << 10
    /// How long bulk reads are held waiting for the next one.
    static let holdLimit = TimeAmount.microseconds(500)

    private var gathered: ByteBuffer?
    private var lastReadWasBulk = false
    private var passOnTimer: Scheduled<Void>?
    /// The handler's own descriptor of the master (non-blocking, as NIO set it), or -1; closed when the
    /// handler leaves the pipeline, always on the channel's event loop, so never while a read uses it.
    private var master: Int32

    /// Where what the handler passes on may go straight to the session's only client.
    private let direct: DirectOutput?
    /// Whether what is gathered waits for room in the client's connection: no read goes through meanwhile.
    private var waitingForRoom = false
    /// Whether a read was asked for while waiting (made once the wait ends).
    private var readHeld = false
    /// Calls ``roomMade(_:)`` on the channel's event loop, from any thread; made when the handler joins the
    /// pipeline, let go when it leaves.
    private var resumeAfterWait: (@Sendable () -> Void)?

    /// A handler that only joins the reads NIO hands it; with `direct`, it offers what it passes on there
    /// first.
    init(direct: DirectOutput? = nil) {
        master = -1
        self.direct = direct
    }

    /// A handler that also reads on by itself from `master`, a descriptor of the PTY's master that it owns
    /// and closes. The descriptor is made non-blocking (for a PTY's master NIO has done so already: the
    /// flag belongs to the open file that both descriptors share).
    init(readingOnFrom master: Int32, direct: DirectOutput? = nil) {
        self.master = master
        self.direct = direct
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard direct != nil else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        resumeAfterWait = {
            guard eventLoop.inEventLoop else {
                eventLoop.execute { loopBound.value.0.roomMade(loopBound.value.1) }
                return
            }
            loopBound.value.0.roomMade(loopBound.value.1)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        lastReadWasBulk = bytes.readableBytes >= Self.bulkRead
        guard var held = gathered else {
            gathered = bytes
            return
        }
        gathered = nil
        Self.makeRoom(for: bytes.readableBytes, in: &held, allocator: context.channel.allocator)
        held.writeImmutableBuffer(bytes)
        gathered = held
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard var bytes = gathered else { return context.fireChannelReadComplete() }
        // Reads of a round that had begun before the wait join what waits.
        guard !waitingForRoom else { return }
        if lastReadWasBulk, master >= 0 {
            gathered = nil
            readOn(into: &bytes, allocator: context.channel.allocator)
            gathered = bytes
        }
        if lastReadWasBulk, bytes.readableBytes < Self.gatherLimit {
            if passOnTimer == nil {
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                passOnTimer = context.eventLoop.scheduleTask(in: Self.holdLimit) {
                    let (handler, context) = loopBound.value
                    handler.passOnTimer = nil
                    handler.passOn(context)
                }
            }
            return
        }
        passOn(context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        passOn(context, mayWait: false)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        passOn(context, mayWait: false)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        passOn(context, mayWait: false)
        context.fireUserInboundEventTriggered(event)
    }

    /// Lets no read through while what is gathered waits for room.
    func read(context: ChannelHandlerContext) {
        guard !waitingForRoom else {
            readHeld = true
            return
        }
        context.read()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        passOnTimer?.cancel()
        passOnTimer = nil
        waitingForRoom = false
        resumeAfterWait = nil
        direct?.stopWaiting()
        if master >= 0 {
            closeDescriptor(master)
            master = -1
        }
    }

    /// Reads from ``master`` into `bytes` while its reads are bulk and the gathering is under the limit. A
    /// read with nothing ready leaves ``lastReadWasBulk`` set (more is coming: the bytes are held as after
    /// a bulk read); the end of the output or an error leaves the rest to NIO's own read.
    private func readOn(into bytes: inout ByteBuffer, allocator: ByteBufferAllocator) {
        while lastReadWasBulk, bytes.readableBytes < Self.gatherLimit {
            Self.makeRoom(for: Self.fullRead, in: &bytes, allocator: allocator)
            var result = 0
            var error: Int32 = 0
            bytes.writeWithUnsafeMutableBytes(minimumWritableBytes: Self.fullRead) { space in
                result = readDescriptor(master, space.baseAddress, space.count)
                error = errno
                return max(result, 0)
            }
            guard result > 0 else {
                // Nothing ready yet: hold, as after a bulk read. The end, or an error: NIO's read sees it.
                if result == 0 || (error != EAGAIN && error != EWOULDBLOCK) { lastReadWasBulk = false }
                return
            }
            lastReadWasBulk = result >= Self.bulkRead
        }
    }

    /// Makes room for `count` more bytes in `held`: once, for all the gathering, so each byte is copied
    /// once and not again at every doubling.
    private static func makeRoom(for count: Int, in held: inout ByteBuffer, allocator: ByteBufferAllocator) {
        guard held.writableBytes < count else { return }
        var joined = allocator.buffer(capacity: max(gatherLimit + fullRead, held.readableBytes + count))
        joined.writeImmutableBuffer(held)
        held = joined
    }

    /// Passes on what is held, as one read: straight to the session's only client when ``DirectOutput``
    /// takes it; or, when it has the read wait for room and `mayWait`, holds it; otherwise down the pipeline
    /// to the session. A read held back by a wait that has ended is made.
    private func passOn(_ context: ChannelHandlerContext, mayWait: Bool = true) {
        passOnTimer?.cancel()
        passOnTimer = nil
        waitingForRoom = false
        if let bytes = gathered {
            switch direct?.send(bytes, resumeWhenThereIsRoom: mayWait ? resumeAfterWait : nil) {
            case .sent:
                gathered = nil
            case .waiting:
                waitingForRoom = true
                return
            case .passedToSession, nil:
                gathered = nil
                context.fireChannelRead(wrapInboundOut(bytes))
                context.fireChannelReadComplete()
            }
        }
        if readHeld {
            readHeld = false
            context.read()
        }
    }

    /// The client's connection has room again, or the way changed: what waits is offered again.
    private func roomMade(_ context: ChannelHandlerContext) {
        guard waitingForRoom else { return }
        passOn(context)
    }
}
