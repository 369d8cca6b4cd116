public import Hummingbird
public import HummingbirdWebSocket
public import NIOCore
import Synchronization

/// The request context Switchboard's routes use: WebSocket upgrades and the client's address.
///
/// To mount Switchboard into an application of your own, use this context or any context that conforms
/// to `WebSocketRequestContext` (and to `RemoteAddressRequestContext`, for `#INFO`'s `ClientIP`).
///
/// - Note: HummingbirdWebSocket 2.8 keeps the upgrade's handler, and with it a copy of the request context,
///   in a box that the context itself holds, and never empties it: every upgraded connection would keep its
///   request context (logger, metadata, handler) alive for ever. This context lets Switchboard drop its
///   hold on the box once the connection is upgraded, which breaks that cycle. Contexts of your own keep
///   the leak; see `Docs/KnownIssues.md`.
public struct SwitchboardRequestContext: RequestContext, WebSocketRequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    private let webSocketHolder: WebSocketReferenceHolder<SwitchboardRequestContext>
    /// The address of the client (or of the proxy in front of it).
    public let remoteAddress: SocketAddress?
    /// The connection's channel, to answer refused upgrades (see `UpgradeRefusalHandler`).
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.webSocketHolder = WebSocketReferenceHolder()
        self.remoteAddress = source.channel.remoteAddress
        self.channel = source.channel
    }

    /// Where HummingbirdWebSocket leaves the upgrade's handler.
    public var webSocket: WebSocketHandlerReference<Self> { webSocketHolder.reference }
}

/// Holds a context's WebSocket handler reference until the connection is upgraded.
final class WebSocketReferenceHolder<Context: WebSocketRequestContext>: Sendable {
    private let held = Mutex<WebSocketHandlerReference<Context>?>(WebSocketHandlerReference())

    var reference: WebSocketHandlerReference<Context> { held.withLock { $0 } ?? WebSocketHandlerReference() }

    func release() { held.withLock { $0 = nil } }
}

/// A request context whose hold on its WebSocket handler reference can be dropped after the upgrade.
protocol ReleasesWebSocketReference {
    func releaseWebSocketReference()
}

extension SwitchboardRequestContext: ReleasesWebSocketReference {
    func releaseWebSocketReference() { webSocketHolder.release() }
}
