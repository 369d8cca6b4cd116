public import Hummingbird
public import HummingbirdWebSocket
public import NIOCore
import Synchronization

/// A request context that Switchboard's routes can serve: WebSocket upgrades, the client's address, and what
/// Switchboard keeps per request (``SwitchboardContextStorage``).
///
/// Use ``SwitchboardRequestContext``, or make your own context conform by adding one stored property; the
/// protocol provides `webSocket` and `remoteAddress` from it:
/// ```swift
/// struct AppRequestContext: RequestContext, SwitchboardRequestContextProtocol {
///     var coreContext: CoreRequestContextStorage
///     let switchboard: SwitchboardContextStorage<AppRequestContext>
///
///     init(source: ApplicationRequestContextSource) {
///         coreContext = .init(source: source)
///         switchboard = .init(source: source)
///     }
/// }
/// ```
///
/// - Note: HummingbirdWebSocket 2.8 keeps the upgrade's handler, and with it a copy of the request context, in a
///   box that the context itself holds, and never empties it: every upgraded connection would keep its request
///   context (logger, metadata, anything of yours) alive for ever. Through ``SwitchboardContextStorage``,
///   Switchboard drops its hold on that box once the connection is upgraded, which breaks the cycle.
public protocol SwitchboardRequestContextProtocol: WebSocketRequestContext, RemoteAddressRequestContext {
    /// What Switchboard keeps for the request; create it with ``SwitchboardContextStorage/init(source:)`` in the
    /// context's initialiser.
    var switchboard: SwitchboardContextStorage<Self> { get }
}

extension SwitchboardRequestContextProtocol {
    /// Where HummingbirdWebSocket leaves the upgrade's handler, until Switchboard takes it.
    public var webSocket: WebSocketHandlerReference<Self> { switchboard.holder.reference(as: Self.self) }
    /// The address of the client (or of the proxy in front of it).
    public var remoteAddress: SocketAddress? { switchboard.channel.remoteAddress }
}

/// What Switchboard keeps in each request context: the connection's channel and the upgrade's handler
/// reference, which it lets go once the connection is upgraded.
public struct SwitchboardContextStorage<Context: WebSocketRequestContext>: Sendable {
    let holder: WebSocketReferenceHolder
    /// The connection's channel: for refused upgrades (``UpgradeRefusalHandler``), pings and the close on
    /// shutdown (``WebSocketWatch``).
    let channel: any Channel

    /// Creates the storage for a new request.
    public init(source: ApplicationRequestContextSource) {
        self.holder = WebSocketReferenceHolder()
        self.channel = source.channel
    }
}

/// The request context Switchboard's routes use by default: WebSocket upgrades and the client's address.
///
/// To mount Switchboard into an application of your own, use this context or one of your own that conforms
/// to ``SwitchboardRequestContextProtocol``.
public struct SwitchboardRequestContext: RequestContext, SwitchboardRequestContextProtocol {
    public var coreContext: CoreRequestContextStorage
    public let switchboard: SwitchboardContextStorage<SwitchboardRequestContext>

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.switchboard = .init(source: source)
    }
}

/// Holds a context's WebSocket handler reference until the connection is upgraded.
///
/// The reference (a lock and a box) is made the first time it is asked for, which only an upgrade does: a
/// plain HTTP request neither makes nor frees one. The holder is not generic: the reference is kept as
/// `any Sendable` and handed out as the one type its ``SwitchboardContextStorage`` asks for, so that freeing
/// the holder of a plain request looks up no generic type's metadata (two look-ups, about 650 instructions).
final class WebSocketReferenceHolder: Sendable {
    private enum State {
        case unused
        case held(any Sendable)
        case released
    }

    private let state = Mutex<State>(.unused)

    /// The reference, made on first use; the storage that owns this holder always asks with the same `Context`.
    func reference<Context: WebSocketRequestContext>(as _: Context.Type) -> WebSocketHandlerReference<Context> {
        state.withLock { state in
            switch state {
            // Asked for only while a request is upgraded, with the type that made it.
            case .held(let reference): return reference as! WebSocketHandlerReference<Context>
            case .unused:
                let reference = WebSocketHandlerReference<Context>()
                state = .held(reference)
                return reference
            case .released: return WebSocketHandlerReference()
            }
        }
    }

    func release() { state.withLock { $0 = .released } }

    /// Whether the reference was asked for: a route that upgrades leaves its handler there.
    var wasAskedFor: Bool {
        state.withLock { state in
            if case .unused = state { return false }
            return true
        }
    }
}
