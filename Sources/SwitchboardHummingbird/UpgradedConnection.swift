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
/// in a task of its own, whose slabs are freed when it is done, and the frame that waits for the connection's
/// end holds only what that wait needs.
struct UpgradedConnection: Sendable {
    let api: SwitchboardAPI
    let root: String
    let maxMessageSize: Int
    /// The keep-alive pings of this server's connections, one round per event loop; `nil`: no pings.
    let pings: PingRounds?
    let trustedProxies: [IPAddressRange]
    let isTLS: Bool
    /// Whether permessage-deflate is offered to clients.
    let compression: Bool
    /// How hard what the server sends is compressed (1...9).
    let compressionLevel: Int
    let admission: ConnectionAdmission

    init(api: SwitchboardAPI, configuration: SwitchboardServerConfiguration, admission: ConnectionAdmission) {
        self.api = api
        root = configuration.normalizedRoot
        maxMessageSize = configuration.maxMessageSize
        pings = PingRounds(interval: configuration.pingInterval)
        trustedProxies = configuration.trustedProxies
        isTLS = configuration.tls != nil
        compression = configuration.compression
        compressionLevel = PerMessageDeflateBuilder.level(configuration.compressionLevel)
        self.admission = admission
    }

    /// What serving a connection needs, made once it is upgraded.
    private struct Ready: Sendable {
        let request: ConnectionRequest
        let transport: WebSocketTransport
        let inboundQueue: InboundFrameQueue?
        /// Inflates what the queue brings, when permessage-deflate was negotiated.
        let receiver: DeflateReceiver?
    }

    func serve<Context: SwitchboardRequestContextProtocol>(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, context: WebSocketRouterContext<Context>
    ) async throws {
        guard let opened = try await openInATaskOfItsOwn(inbound: inbound, outbound: outbound, context: context) else { return }
        defer { admission.finish(opened.clientIP) }
        let closeState = opened.closeState
        try await withGracefulShutdownHandler {
            try await opened.connection.serve(inbound: opened.inbound)
        } onGracefulShutdown: {
            closeState.serverIsShuttingDown()
        }
    }

    /// What the frame waiting for the connection's end holds.
    private struct Opened: Sendable {
        let connection: SwitchboardAPI.OpenedConnection
        let inbound: InboundMessages
        let closeState: WebSocketWatch.CloseState
        let clientIP: String
    }

    /// ``open(inbound:outbound:context:)`` in a task of its own. The setup's frames are the deepest this
    /// connection's task would have; in a task of its own their slabs are freed once it is done, where in this
    /// task they would stay for the connection's life (one slab, about 1 KiB, per idle connection). The task
    /// is released when this function returns: a local that held it to the end of `serve` would keep its
    /// slabs too. It is not cancelled with the connection's task: the setup is short, and a connection whose
    /// task was cancelled meanwhile ends in `serve`, as before.
    @inline(never)
    private func openInATaskOfItsOwn<Context: SwitchboardRequestContextProtocol>(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, context: WebSocketRouterContext<Context>
    ) async throws -> Opened? {
        try await Task { try await open(inbound: inbound, outbound: outbound, context: context) }.value
    }

    /// Prepares the upgraded connection and registers it with the API; `nil` if the API refused it (the
    /// client has been told why).
    @inline(never)
    private func open<Context: SwitchboardRequestContextProtocol>(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, context: WebSocketRouterContext<Context>
    ) async throws -> Opened? {
        let ready = try await prepare(outbound: outbound, context: context)
        let clientIP = ready.request.clientIP
        admission.activate(clientIP)
        guard let connection = await api.open(ready.request, transport: ready.transport) else {
            admission.finish(clientIP)
            return nil
        }
        return Opened(
            connection: connection,
            inbound: InboundMessages(
                frames: inbound, queue: ready.inboundQueue, receiver: ready.receiver, maxSize: maxMessageSize, outbound: outbound),
            closeState: ready.transport.closeState, clientIP: clientIP)
    }

    /// Reads the upgraded request, installs the watch and authenticates the connection. Each `await` here is
    /// in a small function of its own, and the frame of this one holds only what crosses them: the
    /// connection's task keeps the slabs of its deepest stack for the life of the connection.
    @inline(never)
    private func prepare<Context: SwitchboardRequestContextProtocol>(
        outbound: WebSocketOutboundWriter, context webSocketContext: WebSocketRouterContext<Context>
    ) async throws -> Ready {
        let upgrade = try upgradeRequest(webSocketContext)
        let closeState = WebSocketWatch.CloseState()
        let installed = await installWatch(
            on: upgrade.channel, closeState: closeState, compressedInput: upgrade.agreement != nil, outbound: outbound)
        // Checked before the upgrade; authenticated once more here because the identity cannot travel
        // through the upgrade. A key revoked in between leaves it `nil`: `serve` then refuses (4401).
        let identity = try? await api.authenticate(headers: upgrade.connection.headers, uriKey: upgrade.connection.uriKey)
        return ready(upgrade, identity: identity, closeState: closeState, installed: installed, outbound: outbound)
    }

    @inline(never)
    private func ready(
        _ upgrade: UpgradeRequest, identity: AccessIdentity?, closeState: WebSocketWatch.CloseState,
        installed: (writer: WebSocketWatch.DirectWriter, queue: InboundFrameQueue?)?, outbound: WebSocketOutboundWriter
    ) -> Ready {
        var request = upgrade.connection.request
        request.identity = identity
        return Ready(
            request: request,
            transport: WebSocketTransport(
                outbound: outbound, closeState: closeState, directWriter: installed?.writer, maxFrameSize: maxMessageSize,
                compression: upgrade.agreement.flatMap { MessageCompression(agreement: $0, level: compressionLevel) }),
            inboundQueue: installed?.queue,
            receiver: upgrade.agreement != nil ? DeflateReceiver(maxInflatedFrameSize: maxMessageSize) : nil)
    }

    /// What the upgrade request says about the connection. A class: the frame of `prepare` holds a reference
    /// across its `await`s, not the request.
    private final class UpgradeRequest {
        let connection: SwitchboardConnectionRequest
        let channel: any Channel
        /// What permessage-deflate was agreed on, when it was: offered by the client in a way the server accepts.
        let agreement: PerMessageDeflateBuilder.Agreement?

        init(connection: SwitchboardConnectionRequest, channel: any Channel, agreement: PerMessageDeflateBuilder.Agreement?) {
            self.connection = connection
            self.channel = channel
            self.agreement = agreement
        }
    }

    @inline(never)
    private func upgradeRequest<Context: SwitchboardRequestContextProtocol>(
        _ webSocketContext: WebSocketRouterContext<Context>
    ) throws(SwitchboardError) -> UpgradeRequest {
        // The upgrade has read its handler: let the request context go (see SwitchboardRequestContextProtocol).
        let storage = webSocketContext.requestContext.switchboard
        storage.holder.release()
        let agreement = compression ? PerMessageDeflateBuilder.agreement(webSocketContext.request.headers) : nil
        let connection = try Router<Context>.connectionRequest(
            for: webSocketContext.request, root: root, remoteAddress: webSocketContext.requestContext.remoteAddress,
            trustedProxies: trustedProxies, isTLS: isTLS)
        return UpgradeRequest(connection: connection, channel: storage.channel, agreement: agreement)
    }

    /// In one turn on the connection's event loop: a graceful shutdown of the server closes with 1001 and
    /// `.shutdown`, empty pings, and a close when one goes unanswered (see WebSocketWatch); reads into small
    /// buffers while the connection is idle; the data frames read are queued for the reader, which parks while
    /// there are none (see InboundFrameQueue) and inflates compressed ones (see DeflateReceiver).
    @inline(never)
    private func installWatch(
        on channel: any Channel, closeState: WebSocketWatch.CloseState, compressedInput: Bool, outbound: WebSocketOutboundWriter
    ) async -> (writer: WebSocketWatch.DirectWriter, queue: InboundFrameQueue?)? {
        let pings = pings
        let installed = try? await channel.eventLoop.submit {
            try? channel.syncOptions?.setOption(ChannelOptions.recvAllocator, value: Self.receiveBuffers)
            return try? WebSocketWatch.install(
                on: channel, state: closeState, pings: pings, queueingInput: true, compressedInput: compressedInput
            ) {
                Task { try? await outbound.close(.goingAway, reason: "No answer to ping") }
            }
        }.get()
        return installed.map { (writer: $0.0, queue: $0.1) }
    }
    /// How an upgraded connection reads: NIO's adaptive buffers, starting at 512 bytes instead of 2 KiB, so that
    /// an idle connection holds a small buffer; they grow on the first reads that fill them.
    static var receiveBuffers: AdaptiveRecvByteBufferAllocator {
        AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 64 << 10)
    }

}
