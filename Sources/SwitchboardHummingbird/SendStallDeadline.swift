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
/// not writable: the connection is closed when no byte has left for the client for `limit` (the server's idle
/// timeout), or for ``WebSocketWatch/shutdownCloseLimit`` once the server shuts down. Closing the channel ends
/// an upgraded connection's input, so its terminal ends (a PTY's program with it). A client that reads slowly
/// makes progress and keeps its connection, as with nginx's `send_timeout`.
///
/// Progress is, on Linux, a segment of data leaving the socket for the client (`tcpi_last_data_sent`; window
/// probes to a client whose buffer is full carry none); elsewhere, the channel's own buffer shrinking. The
/// first is the finer: the kernel lets the channel write again only once half its send buffer is free, which
/// on loopback can be megabytes, so a client reading at 200 KB/s could go many seconds without the channel
/// seeing a byte leave. The handler only watches: it takes no part in reads or writes.
final class SendStallDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let limit: TimeAmount
    /// Where the system cannot say when data last left the socket: what the channel buffered when it was
    /// last seen to shrink, and when.
    private var lastProgress: (buffered: Int, at: NIODeadline) = (0, .now())
    private var check: Scheduled<Void>?
    private var shuttingDown = false

    init(limit: TimeAmount) { self.limit = limit }

    private var currentLimit: TimeAmount { shuttingDown ? min(limit, WebSocketWatch.shutdownCloseLimit) : limit }

    /// How often a stalled channel is looked at: the connection is closed within a fifth of the limit after it.
    private var checkInterval: TimeAmount { .nanoseconds(max(currentLimit.nanoseconds / 5, 1_000_000)) }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            stopChecking()
        } else if check == nil {
            lastProgress = (buffered(context), .now())
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

    private func buffered(_ context: ChannelHandlerContext) -> Int {
        (try? context.channel.syncOptions?.getOption(ChannelOptions.bufferedWritableBytes)) ?? 0
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
        let stalled: TimeAmount
        if let sinceDataLeft = timeSinceDataLeftTheSocket(context) {
            stalled = sinceDataLeft
        } else {
            let now = NIODeadline.now()
            let buffered = buffered(context)
            if buffered < lastProgress.buffered { lastProgress.at = now }
            lastProgress.buffered = buffered
            stalled = now - lastProgress.at
        }
        if stalled >= currentLimit {
            context.close(promise: nil)
            return
        }
        scheduleCheck(context)
    }

    /// How long ago the socket last sent the client a segment of data, where the system says (Linux, TCP).
    private func timeSinceDataLeftTheSocket(_ context: ChannelHandlerContext) -> TimeAmount? {
        #if os(Linux)
        guard let socket = context.channel as? any SocketOptionProvider else { return nil }
        // On the channel's event loop the option is read at once, and the future is already complete.
        var since: TimeAmount?
        socket.getTCPInfo().assumeIsolated().whenSuccess { since = .milliseconds(Int64($0.tcpi_last_data_sent)) }
        return since
        #else
        return nil
        #endif
    }

    private func stopChecking() {
        check?.cancel()
        check = nil
    }
}
