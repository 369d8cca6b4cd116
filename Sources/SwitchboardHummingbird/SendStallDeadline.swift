import NIOCore

#if os(Linux)
import Glibc
#endif

/// Closes a connection whose client stops taking what the server sends it.
///
/// Hummingbird's idle timeout does not apply while a response is being written, and its writer waits for the
/// channel to become writable again, so an HTTP client that sent requests and read nothing (its socket buffer
/// full of pipelined answers) held the connection, its task and what it had buffered for ever, and held up a
/// graceful shutdown until the watchdog ended the process. A WebSocket client that reads nothing was bounded
/// only by pings, and not at all with pings off.
///
/// The handler sits nearest the socket (beneath the encryption, if any) and watches the channel while it is
/// not writable: the connection is closed when the client has taken nothing for `limit` (the server's idle
/// timeout), or for ``WebSocketWatch/shutdownCloseLimit`` once the server shuts down. Closing the channel ends
/// an upgraded connection's input, so its terminal ends (a PTY's program with it). A client that reads slowly
/// makes progress and keeps its connection, as with nginx's `send_timeout`.
///
/// Progress is, on Linux, the client acknowledging data (the kernel's `tcpi_bytes_acked`), which a client
/// takes only as it reads; elsewhere, the channel's own buffer shrinking. The first is the finer: the kernel
/// lets the channel write again only once half its send buffer is free, which on loopback can be megabytes,
/// so a client reading at 200 KB/s could go many seconds without the channel seeing a byte leave. Data merely
/// sent is not progress: to a client whose buffer dropped it, or that has gone away, the kernel sends the same
/// data again at doubling intervals, which held a connection 84 s for a limit of 30. The handler only
/// watches: it takes no part in reads or writes.
final class SendStallDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let limit: TimeAmount
    /// The last progress seen, and when: the bytes the client had acknowledged (Linux), or else what the
    /// channel buffered, with its sign turned so that progress makes it grow.
    private var lastProgress: (mark: Int, at: NIODeadline) = (0, .now())
    private var check: Scheduled<Void>?
    private var shuttingDown = false

    init(limit: TimeAmount) { self.limit = limit }

    private var currentLimit: TimeAmount { shuttingDown ? min(limit, WebSocketWatch.shutdownCloseLimit) : limit }

    /// How often a stalled channel is looked at: the connection is closed within a fifth of the limit after it.
    private var checkInterval: TimeAmount { .nanoseconds(max(currentLimit.nanoseconds / 5, 1_000_000)) }

    /// A busy stream turns the channel unwritable and writable again many times a second: a check already
    /// waiting is left to run (it stops if the channel is writable by then), so that a turn costs nothing.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if !context.channel.isWritable, check == nil {
            lastProgress = (progressMark(context), .now())
            scheduleCheck(context)
        }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ServerShutdownNotice, !shuttingDown {
            shuttingDown = true
            if check != nil {
                check?.cancel()
                scheduleCheck(context)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func handlerRemoved(context: ChannelHandlerContext) { stopChecking() }

    func channelInactive(context: ChannelHandlerContext) {
        stopChecking()
        context.fireChannelInactive()
    }

    /// A figure that grows as the client takes data: the bytes it has acknowledged where the system says
    /// (Linux, TCP), or else less what the channel still buffers.
    private func progressMark(_ context: ChannelHandlerContext) -> Int {
        if let acknowledged = bytesAcknowledged(context) { return acknowledged }
        return -((try? context.channel.syncOptions?.getOption(ChannelOptions.bufferedWritableBytes)) ?? 0)
    }

    private func scheduleCheck(_ context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        check = context.eventLoop.scheduleTask(in: checkInterval) {
            let (handler, context) = loopBound.value
            handler.check = nil
            handler.checkProgress(context)
        }
    }

    private func checkProgress(_ context: ChannelHandlerContext) {
        guard context.channel.isActive, !context.channel.isWritable else { return }
        let now = NIODeadline.now()
        let mark = progressMark(context)
        if mark > lastProgress.mark {
            lastProgress = (mark, now)
        } else {
            lastProgress.mark = mark
        }
        if now - lastProgress.at >= currentLimit {
            context.close(promise: nil)
            return
        }
        scheduleCheck(context)
    }

    #if os(Linux)
    /// The kernel's `struct tcp_info` as far as `tcpi_bytes_acked` (Linux 4.1), as sixteen 8-byte words;
    /// glibc's declaration of it ends before that field, the last word here (offset 120).
    private typealias KernelTCPInfo = (
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
        UInt64, UInt64
    )
    #endif

    /// The bytes the client has acknowledged, where the system says (Linux, TCP).
    private func bytesAcknowledged(_ context: ChannelHandlerContext) -> Int? {
        #if os(Linux)
        guard let socket = context.channel as? any SocketOptionProvider else { return nil }
        // On the channel's event loop the option is read at once, and the future is already complete.
        var acknowledged: Int?
        let info: EventLoopFuture<KernelTCPInfo> = socket.unsafeGetSocketOption(
            level: SocketOptionLevel(IPPROTO_TCP), name: SocketOptionName(TCP_INFO))
        info.assumeIsolated().whenSuccess { acknowledged = Int(truncatingIfNeeded: $0.15) }
        return acknowledged
        #else
        return nil
        #endif
    }

    private func stopChecking() {
        check?.cancel()
        check = nil
    }
}
