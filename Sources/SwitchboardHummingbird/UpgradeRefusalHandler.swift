import Hummingbird
import Switchboard
import NIOCore

/// Lets a refused WebSocket upgrade be answered with Switchboard's own status (`401` with
/// `WWW-Authenticate`, `403`, `404`) and JSON body.
///
/// HummingbirdWebSocket 2.8 answers every upgrade its router declines with an empty `400 Bad Request`.
/// Switchboard's route records the response it wants on the connection's pipeline first
/// (through ``SwitchboardContextStorage``); this handler, nearest the socket, then writes that response
/// instead of the `400`. It removes itself after the first response of the connection, which is the only
/// one an upgrade can be refused in.
final class UpgradeRefusalHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The whole HTTP response to write in place of the refusal.
    var refusal: ByteBuffer?
    private var replaced = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if replaced {
            // The rest of the empty 400 Hummingbird writes: already answered.
            promise?.succeed()
            return
        }
        if let refusal {
            self.refusal = nil
            replaced = true
            context.write(wrapOutboundOut(refusal), promise: promise)
            return
        }
        context.write(data, promise: promise)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    /// A response serialised for the wire, closing the connection.
    static func serialize(_ response: Response, body: String) -> ByteBuffer {
        // A status made from a code alone has no phrase: write Switchboard's, as its other status lines have.
        let phrase = response.status.reasonPhrase.isEmpty ? SwitchboardError.reasonPhrase(for: response.status.code) : response.status.reasonPhrase
        var text = "HTTP/1.1 \(response.status.code) \(phrase)\r\n"
        for field in response.headers where field.name != .contentLength && field.name != .connection {
            text += "\(field.name.rawName): \(field.value)\r\n"
        }
        text += "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
        return ByteBuffer(string: text)
    }
}

extension SwitchboardContextStorage {
    /// Records the response to this request's refused upgrade on the connection's pipeline.
    func refuseUpgrade(with response: ByteBuffer) async {
        let channel = self.channel
        try? await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.handler(type: UpgradeRefusalHandler.self).refusal = response
        }.get()
    }

    /// Records the response to this request's refused upgrade, unless one is recorded already.
    func refuseUpgradeUnlessRefused(with response: ByteBuffer) async {
        let channel = self.channel
        try? await channel.eventLoop.submit {
            let handler = try channel.pipeline.syncOperations.handler(type: UpgradeRefusalHandler.self)
            if handler.refusal == nil { handler.refusal = response }
        }.get()
    }
}
