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
    /// How long a close may take before the connection is ended anyway (see WebSocketWatch).
    let closeTimeout: TimeAmount
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
        closeTimeout = TimeAmount(configuration.closeTimeout)
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

    /// Serves an upgraded connection until it ends.
    ///
    /// What waits here for the connection's end is the last thing on the connection's task, after
    /// Hummingbird's frames: small enough to fit in the slab they leave, with no slab of its own (about 1 KiB
    /// per idle connection). So the setup runs in a task of its own (``openingTask(inbound:outbound:context:)``),
    /// what the wait needs is one object (``Opened``), the graceful-shutdown handler that tells the watch of a
    /// shutdown is registered before the upgrade, for the connection's life (``DeadlineGuardedChannel``), and
    /// the wait has no cancellation handler: when the connection's task is cancelled, Hummingbird's WebSocket
    /// handler closes the channel's input (the watch closes a TLS connection whole, whose handler cannot close
    /// input alone), and the connection ends as when the client goes away.
    @inline(__always)
    func serve<Context: SwitchboardRequestContextProtocol>(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, context: WebSocketRouterContext<Context>
    ) async throws {
        guard let opened = try await openingTask(inbound: inbound, outbound: outbound, context: context).value else { return }
        defer { opened.admission.finish(opened.clientIP) }
        try await opened.connection.serve(inbound: opened.inbound)
    }

    /// An opened connection, and what serving it needs: one reference in the frame that waits.
    private final class Opened: Sendable {
        let connection: SwitchboardAPI.OpenedConnection
        let inbound: InboundMessages
        let clientIP: String
        let admission: ConnectionAdmission

        init(connection: SwitchboardAPI.OpenedConnection, inbound: InboundMessages, clientIP: String, admission: ConnectionAdmission) {
            self.connection = connection
            self.inbound = inbound
            self.clientIP = clientIP
            self.admission = admission
        }
    }

    /// ``open(inbound:outbound:context:)`` in a task of its own. The setup's frames are the deepest this
    /// connection's task would have; in a task of its own their slabs are freed once it is done, where in this
    /// task they would stay for the connection's life (one slab, about 1 KiB, per idle connection). Made in a
    /// function that does not suspend: the copy of the router context that the task takes is made on the
    /// thread's stack, not in the connection task's allocator (it is 304 bytes). The task is released once
    /// `serve` has its value: a local that held it to the end of `serve` would keep its slabs too. It is not
    /// cancelled with the connection's task: the setup is short, and a connection whose task was cancelled
    /// meanwhile ends as any cancelled connection does (see `serve`).
    @inline(never)
    private func openingTask<Context: SwitchboardRequestContextProtocol>(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, context: WebSocketRouterContext<Context>
    ) -> Task<Opened?, any Error> {
        Task { try await open(inbound: inbound, outbound: outbound, context: context) }
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
            clientIP: clientIP, admission: admission)
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
        // A shutdown that began before the watch was in the pipeline did not reach it (``ServerShutdownNotice``).
        // This task has the connection's task-local values, the graceful-shutdown manager among them.
        if Task.isShuttingDownGracefully {
            if let writer = installed?.writer { writer.serverIsShuttingDown() } else { closeState.serverIsShuttingDown() }
        }
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
        let (pings, closeTimeout) = (pings, closeTimeout)
        let installed = try? await channel.eventLoop.submit {
            try? channel.syncOptions?.setOption(ChannelOptions.recvAllocator, value: Self.receiveBuffers)
            return try? WebSocketWatch.install(
                on: channel, state: closeState, pings: pings, queueingInput: true, compressedInput: compressedInput,
                closeTimeout: closeTimeout
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
