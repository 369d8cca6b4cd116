import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Ends the connection after a response that says `Connection: close`, whatever the client still sends.
///
/// Hummingbird, after such a response (its own `400` for a malformed head, Switchboard's `413` for a body
/// over the limit), keeps reading the rest of the request and then waits for the client to close: a
/// client that stops sending, or never closes, held the socket and its unread megabytes for minutes.
/// This handler half-closes the connection as soon as the response is written (the client reads the
/// answer and sees the end), and closes it fully after ``linger``, enough for the client to read what was
/// sent before its unread input makes the kernel reset the connection.
///
/// It looks into responses only once it has been told one of them may end the connection: by an HTTP
/// parse error on its way in (Hummingbird answers it with its `400`), or by ``CloseAfterResponse``, which
/// Switchboard's route sends before it answers `413`. Every other response goes by untouched: looking into
/// each of them cost three dynamic casts of `NIOAny` and a header look-up, about 2 thousand instructions a
/// request on the event loop. (An application's own route that answers `Connection: close` gets
/// Hummingbird's handling of it.)
final class ClosingResponseHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// Tells the handler, from the channel's outbound side, that the next responses are to be looked into.
    struct CloseAfterResponse: Sendable {}

    /// How long the connection stays half-closed before it is closed.
    static let linger = TimeAmount.seconds(2)
    /// Whether responses are looked into.
    private var watching = false
    private var closing = false

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError { watching = true }
        context.fireErrorCaught(error)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard event is CloseAfterResponse else { return context.triggerUserOutboundEvent(event, promise: promise) }
        watching = true
        promise?.succeed()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard watching else { return context.write(data, promise: promise) }
        switch unwrapOutboundIn(data) {
        case .head(let head):
            closing = head.headerFields[.connection]?.lowercased() == "close"
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            guard closing else {
                context.write(data, promise: promise)
                return
            }
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.cascade(to: promise)
            context.write(data, promise: written)
            let channel = context.channel
            written.futureResult.whenComplete { _ in
                channel.close(mode: .output, promise: nil)
                channel.eventLoop.scheduleTask(in: Self.linger) { channel.close(promise: nil) }
            }
        }
    }
}
