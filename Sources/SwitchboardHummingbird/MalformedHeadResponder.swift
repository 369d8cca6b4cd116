import NIOCore
import NIOHTTP1

/// Answers a first request head that does not parse (garbage, `Host : x`, two `Content-Length`s, both
/// `Content-Length` and `Transfer-Encoding`, a line or header over the decoder's limit) with `400`, or
/// `431` when a header is too large, and one still not whole at its deadline (``RequestHeadDeadlinePassed``)
/// with `408`, and closes the connection.
///
/// While HummingbirdWebSocket 2.8 is still deciding whether the first request is an upgrade, a parse
/// error reaches no one that answers: the connection stayed open, silent, until the client gave up. This
/// handler sits right after the HTTP decoder and removes itself once a head has parsed; later errors are
/// Hummingbird's to answer (its `400`, which ``ClosingResponseHandler`` then closes).
final class MalformedHeadResponder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private var answered = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let isHead = if case .head = unwrapInboundIn(data) { true } else { false }
        context.fireChannelRead(data)
        if isHead { context.pipeline.syncOperations.removeHandler(context: context, promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parseError = error as? HTTPParserError, !answered else {
            context.fireErrorCaught(error)
            return
        }
        let tooLarge = parseError == .headerOverflow
        let status: HTTPResponseStatus = tooLarge ? .requestHeaderFieldsTooLarge : .badRequest
        let message = tooLarge ? "431: Request header fields too large.\n" : "400: Bad request. The request head is malformed.\n"
        answer(context, status: status, message: message)
        // No request will come: told as a client's half-close tells it, so that HummingbirdWebSocket, still
        // waiting for the first one, ends quietly (it logged "Error handling upgrade result" at error level,
        // for every garbage head any client sent).
        context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let passed = event as? RequestHeadDeadlinePassed, !answered {
            let seconds = Double(passed.deadline.nanoseconds) / 1e9
            let limit = seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
            answer(
                context, status: .requestTimeout,
                message: "408: Request timeout. The request head did not arrive whole within \(limit); send it at once.\n")
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func answer(_ context: ChannelHandlerContext, status: HTTPResponseStatus, message: String) {
        answered = true
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: String(message.utf8.count))
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: message)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            channel.close(mode: .output, promise: nil)
            channel.eventLoop.scheduleTask(in: ClosingResponseHandler.linger) { channel.close(promise: nil) }
        }
    }
}
