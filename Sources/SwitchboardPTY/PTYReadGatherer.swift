import NIOCore

/// Joins a PTY's reads while the program writes faster than one read takes, so that its output leaves as
/// fewer, larger messages instead of one message per read.
///
/// Linux hands a PTY's output over in reads of at most 4,095 bytes, and each read used to become one
/// WebSocket message. A message costs the same hand-offs between threads whatever its size, so at full
/// speed that cost, not the bytes, set the pace. A read that comes back full (``fullRead`` bytes) means
/// the program is writing in bulk and more is on its way: the handler holds the bytes until the next read
/// (at most ``holdLimit`` later, and up to ``gatherLimit`` bytes). Any read that is not full (a keystroke's
/// echo, a prompt, the last piece of a burst) passes everything on at once, so interactive output is
/// never held back.
final class PTYReadGatherer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// The most a Linux PTY gives in one read (its line discipline's buffer, less one byte).
    static let fullRead = 4095
    /// The most output joined into one message.
    static let gatherLimit = 64 << 10
    /// How long full reads are held waiting for the next one.
    static let holdLimit = TimeAmount.microseconds(500)

    private var gathered: ByteBuffer?
    private var lastReadWasFull = false
    private var passOnTimer: Scheduled<Void>?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        lastReadWasFull = bytes.readableBytes >= Self.fullRead
        guard var held = gathered else {
            gathered = bytes
            return
        }
        gathered = nil
        if held.writableBytes < bytes.readableBytes {
            // Room for all the gathering at once: each byte is copied once, not again at every doubling.
            var joined = context.channel.allocator.buffer(capacity: Self.gatherLimit + Self.fullRead)
            joined.writeImmutableBuffer(held)
            held = joined
        }
        held.writeImmutableBuffer(bytes)
        gathered = held
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard let bytes = gathered else { return context.fireChannelReadComplete() }
        if lastReadWasFull, bytes.readableBytes < Self.gatherLimit {
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
        passOn(context)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        passOn(context)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        passOn(context)
        context.fireUserInboundEventTriggered(event)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        passOnTimer?.cancel()
        passOnTimer = nil
    }

    /// Passes on what is held, as one read.
    private func passOn(_ context: ChannelHandlerContext) {
        passOnTimer?.cancel()
        passOnTimer = nil
        guard let bytes = gathered else { return }
        gathered = nil
        context.fireChannelRead(wrapInboundOut(bytes))
        context.fireChannelReadComplete()
    }
}
