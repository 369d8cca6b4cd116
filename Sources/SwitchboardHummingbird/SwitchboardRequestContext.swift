public import Hummingbird
public import HummingbirdWebSocket
public import NIOCore

/// The request context Switchboard's routes use: WebSocket upgrades and the client's address.
///
/// To mount Switchboard into an application of your own, use this context or any context that conforms
/// to `WebSocketRequestContext` (and to `RemoteAddressRequestContext`, for `#INFO`'s `ClientIP`).
public struct SwitchboardRequestContext: RequestContext, WebSocketRequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    /// The address of the client (or of the proxy in front of it).
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.webSocket = .init()
        self.remoteAddress = source.channel.remoteAddress
    }
}
