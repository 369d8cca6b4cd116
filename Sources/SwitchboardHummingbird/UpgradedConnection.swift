import Hummingbird
import HummingbirdWebSocket
import NIOCore
import NIOWebSocket
import ServiceLifecycle
import Switchboard

/// Serves the connections that a router's Switchboard route upgraded (`Router.addSwitchboard(_:configuration:)`).
///
/// An idle connection's task keeps the deepest stack it has had, for its life: a Swift task's allocator keeps
/// the slabs it took. So the work done once (installing the watch, reading the request, authenticating) runs
/// in a function of its own, whose frame is gone before the connection is served, and the frame that waits
/// for the connection's end holds only what that wait needs.
struct UpgradedConnection: Sendable {
    let api: SwitchboardAPI
    let root: String
    let maxMessageSize: Int
    let pingInterval: Duration?
    let trustedProxies: [IPAddressRange]
    let isTLS: Bool
    /// Whether permessage-deflate is offered to clients.
    let compression: Bool
    let admission: ConnectionAdmission

    init(api: SwitchboardAPI, configuration: SwitchboardServerConfiguration, admission: ConnectionAdmission) {
        self.api = api
        root = configuration.normalizedRoot
        maxMessageSize = configuration.maxMessageSize
        pingInterval = configuration.pingInterval
        trustedProxies = configuration.trustedProxies
        isTLS = configuration.tls != nil
        compression = configuration.compression
        self.admission = admission
    }

    /// What serving a connection needs, made once it is upgraded.
    private struct Ready: Sendable {
        let request: ConnectionRequest
        let transport: WebSocketTransport
        let inboundQueue: InboundFrameQueue?
    }

    func serve<Context: SwitchboardRequestContextProtocol>(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, context: WebSocketRouterContext<Context>
    ) async throws {
        let ready = try await prepare(outbound: outbound, context: context)
        let clientIP = ready.request.clientIP
        admission.activate(clientIP)
        defer { admission.finish(clientIP) }
        let closeState = ready.transport.closeState
        try await withGracefulShutdownHandler {
            try await api.serve(
                ready.request,
                inbound: InboundMessages(frames: inbound, queue: ready.inboundQueue, maxSize: maxMessageSize, outbound: outbound),
                transport: ready.transport)
        } onGracefulShutdown: {
            closeState.serverIsShuttingDown()
        }
    }

    private func prepare<Context: SwitchboardRequestContextProtocol>(
        outbound: WebSocketOutboundWriter, context webSocketContext: WebSocketRouterContext<Context>
    ) async throws -> Ready {
        // The upgrade has read its handler: let the request context go (see SwitchboardRequestContextProtocol).
        let storage = webSocketContext.requestContext.switchboard
        storage.holder.release()
        // Whether permessage-deflate may be in use: offered by both sides (a client's offer the server turns
        // down only costs this connection the direct ways).
        let mayCompress =
            compression
            && webSocketContext.request.headers[values: .secWebSocketExtensions].contains {
                $0.lowercased().contains("permessage-deflate")
            }
        // In one turn on the connection's event loop: a graceful shutdown of the server closes with 1001 and
        // `.shutdown`, empty pings, and a close when one goes unanswered (see WebSocketWatch); reads into
        // small buffers while the connection is idle; without compression, the data frames read are queued
        // for the reader, which parks while there are none (see InboundFrameQueue).
        let closeState = WebSocketWatch.CloseState()
        let channel = storage.channel
        let pingInterval = pingInterval
        let installed = try? await channel.eventLoop.submit {
            try? channel.syncOptions?.setOption(ChannelOptions.recvAllocator, value: Router<Context>.receiveBuffers)
            return try? WebSocketWatch.install(
                on: channel, state: closeState, pingInterval: pingInterval, queueingInput: !mayCompress
            ) {
                Task { try? await outbound.close(.goingAway, reason: "No answer to ping") }
            }
        }.get()
        var connection = try Router<Context>.connectionRequest(
            for: webSocketContext.request, root: root, remoteAddress: webSocketContext.requestContext.remoteAddress,
            trustedProxies: trustedProxies, isTLS: isTLS)
        // Checked before the upgrade; authenticated once more here because the identity cannot travel
        // through the upgrade. A key revoked in between leaves it `nil`: `serve` then refuses (4401).
        connection.identity = try? await api.authenticate(headers: connection.headers, uriKey: connection.uriKey)
        return Ready(
            request: connection.request,
            transport: WebSocketTransport(
                outbound: outbound, closeState: closeState, directWriter: installed?.0, maxFrameSize: maxMessageSize,
                sendsDirectly: !mayCompress),
            inboundQueue: installed?.1)
    }
}
