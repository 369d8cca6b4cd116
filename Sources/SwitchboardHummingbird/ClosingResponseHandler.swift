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
/// answer and sees the end), then reads and drops what the client still sends, and closes the connection
/// when the client closes, once it has sent nothing for ``linger``, or ``longestLinger`` after the answer.
/// Reading on matters: a client that sends its whole body before it reads (Python's `urllib` and
/// `requests`, and most others without `Expect: 100-continue`) would otherwise fill the buffers, and the
/// close with its input unread would make the kernel reset the connection before the client read the
/// answer. (nginx's lingering close does the same, with 5 and 30 seconds.)
///
/// It looks into responses only once it has been told one of them may end the connection: by an HTTP
/// parse error on its way in (Hummingbird answers it with its `400`), or by ``CloseAfterResponse``, which
/// Switchboard's route sends before it answers `413`. Every other response goes by untouched: looking into
/// each of them cost three dynamic casts of `NIOAny` and a header look-up, about 2 thousand instructions a
/// request on the event loop. (An application's own route that answers `Connection: close` gets
/// Hummingbird's handling of it.)
///
/// It also writes the interim `100 Continue` when Switchboard's route, about to read a body whose client
/// sent `Expect: 100-continue`, asks for it with ``SendContinue``: Hummingbird writes no interim responses,
/// and such a client (curl for a body over 1 MiB, or with `-H 'Expect: 100-continue'`) waited a second for
/// it before it sent the body anyway.
final class ClosingResponseHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// Tells the handler, from the channel's outbound side, that the next responses are to be looked into.
    struct CloseAfterResponse: Sendable {}
    /// Tells the handler, from the channel's outbound side, to write `100 Continue` now: the request's body is
    /// about to be read, and its client waits for this before it sends it.
    struct SendContinue: Sendable {}

    /// How long a half-closed connection waits for more of the client's input before it is closed.
    static let linger = TimeAmount.seconds(2)
    /// The longest a half-closed connection is read from, however the client trickles its input.
    static let longestLinger = TimeAmount.seconds(30)
    /// Whether responses are looked into.
    private var watching = false
    private var closing = false
    /// Once the answer that ends the connection is written: the latest the connection closes; input is dropped.
    private var drainingUntil: NIODeadline?
    private var quietTimer: Scheduled<Void>?

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError { watching = true }
        context.fireErrorCaught(error)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        switch event {
        case is CloseAfterResponse:
            watching = true
            promise?.succeed()
        case is SendContinue:
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: promise)
        default:
            context.triggerUserOutboundEvent(event, promise: promise)
        }
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
            written.futureResult.assumeIsolated().whenComplete { [self] _ in
                context.channel.close(mode: .output, promise: nil)
                drainingUntil = .now() + Self.longestLinger
                closeWhenQuiet(context)
                context.read()
            }
        }
    }

    // MARK: After the answer: the client's input is read and dropped

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard drainingUntil == nil else { return }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard drainingUntil != nil else { return context.fireChannelReadComplete() }
        closeWhenQuiet(context)
        context.read()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if drainingUntil != nil, case ChannelEvent.inputClosed = event {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        quietTimer?.cancel()
        quietTimer = nil
        context.fireChannelInactive()
    }

    /// Closes the connection once the client has sent nothing for ``linger``, and at ``longestLinger`` at the latest.
    private func closeWhenQuiet(_ context: ChannelHandlerContext) {
        guard let drainingUntil else { return }
        quietTimer?.cancel()
        quietTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: min(.now() + Self.linger, drainingUntil)) {
            context.close(promise: nil)
        }
    }
}
