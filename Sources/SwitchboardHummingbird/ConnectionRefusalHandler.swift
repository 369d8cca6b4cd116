import HTTPTypes
import Hummingbird
import NIOCore
import Switchboard

/// Answers a connection ``TCPConnectionLimiter`` refused: writes `503 Service unavailable` with the reason
/// as soon as the connection is open (before the client's request, which HTTP clients read all the same),
/// half-closes it, and closes it once the client has closed its side, or after
/// ``ClosingResponseHandler/linger``.
///
/// It passes nothing on: what the client sends is read and dropped, so that closing the connection does
/// not reset it (a reset can destroy the answer before the client reads it), and no request reaches the
/// handlers behind it. Those handlers are told at once that no request will come (as a client's half-close
/// would tell them), so Hummingbird's task for the connection ends; the close they then ask for waits for
/// the lingering close here.
final class ConnectionRefusalHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let answer: ByteBuffer
    private var answered = false

    init(_ refusal: SwitchboardError) {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.retryAfter] = "1"
        let response = Response(status: HTTPResponse.Status(code: refusal.status), headers: headers)
        answer = UpgradeRefusalHandler.serialize(response, body: refusal.body(uri: "").prettyPrinted + "\n")
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { answer(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        answer(context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            // The client has read the answer and closed its side.
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        // A close from the handlers behind: the lingering close below ends the connection.
        guard mode == .all else { return context.close(mode: mode, promise: promise) }
        context.channel.closeFuture.cascade(to: promise)
    }

    private func answer(_ context: ChannelHandlerContext) {
        guard !answered else { return }
        answered = true
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(answer)).whenComplete { _ in
            channel.close(mode: .output, promise: nil)
        }
        context.eventLoop.assumeIsolated().scheduleTask(in: ClosingResponseHandler.linger) { context.close(promise: nil) }
        context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
    }
}
