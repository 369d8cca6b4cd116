import HummingbirdWebSocket
import NIOCore
import NIOWebSocket
import Synchronization

/// Pings each client with an empty payload and closes the connection (1001) when it has not answered by the
/// next ping.
///
/// HummingbirdWebSocket's own pings carry 16 random bytes, which line clients such as wsdump print as a line
/// of bytes. These carry nothing. The pongs are seen by ``PongWatch``, a handler in the channel's pipeline
/// right after the frame decoder (Hummingbird keeps them from the inbound stream).
final class KeepAlive: Sendable {
    private let lastPong = Atomic<Int64>(0)
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant

    init() { start = clock.now }

    private var elapsed: Int64 {
        let duration = start.duration(to: clock.now)
        return duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }

    /// A pong arrived.
    func pong() { lastPong.store(max(1, elapsed), ordering: .releasing) }

    /// Installs the pong watch on an upgraded channel, on its event loop; throws when the pipeline is not the
    /// one expected.
    static func install(in operations: ChannelPipeline.SynchronousOperations) throws -> KeepAlive {
        let keepAlive = KeepAlive()
        let decoder = try operations.handler(type: ByteToMessageHandler<WebSocketFrameDecoder>.self)
        try operations.addHandler(PongWatch(keepAlive: keepAlive), position: .after(decoder))
        return keepAlive
    }

    func run(interval: Duration, outbound: WebSocketOutboundWriter) async {
        var lastPing: Int64?
        while true {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
            if let lastPing, lastPong.load(ordering: .acquiring) < lastPing {
                try? await outbound.close(.goingAway, reason: "No answer to ping")
                return
            }
            lastPing = elapsed
            do {
                try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .ping, data: ByteBuffer())))
            } catch {
                return
            }
        }
    }
}

/// Notes each pong for ``KeepAlive`` and passes every frame on.
final class PongWatch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame
    let keepAlive: KeepAlive

    init(keepAlive: KeepAlive) { self.keepAlive = keepAlive }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if unwrapInboundIn(data).opcode == .pong { keepAlive.pong() }
        context.fireChannelRead(data)
    }
}
