import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Ends the connection after a response that says `Connection: close`, whatever the client still sends.
///
/// Hummingbird, after such a response (its own `400` for a malformed head, Switchboard's `413` for a body
/// over the limit), keeps reading the rest of the request and then waits for the client to close: a
/// client that stops sending, or never closes, held the socket and its unread megabytes for minutes.
/// This handler half-closes the connection as soon as the response is written (the client reads the
/// answer and sees the end), and closes it fully after ``linger``, enough for the client to read what was
/// sent before its unread input makes the kernel reset the connection.
final class ClosingResponseHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// How long the connection stays half-closed before it is closed.
    static let linger = TimeAmount.seconds(2)
    private var closing = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
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
