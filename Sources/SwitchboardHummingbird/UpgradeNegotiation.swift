import Hummingbird
import HummingbirdWebSocket
import Logging
import Switchboard
import Synchronization

/// Whether a request that asks for a WebSocket upgrade is being answered in an upgrade negotiation, so that
/// Switchboard's route can tell an upgrade that will happen from one that cannot.
///
/// A server built with `.switchboard(webSocketRouter:configuration:)` runs the routes in the negotiation of a
/// connection's first request, where a `200` with a handler upgrades (an upgrade asked for later on a
/// keep-alive connection is answered by HummingbirdWebSocket itself: `307` to the same URI with
/// `Connection: close`, so the client asks again on a new connection). A server without WebSocket support
/// (Hummingbird's `.http1()`) runs them as plain HTTP, where that `200` would reach the client as an empty
/// answer and nothing would be logged; Switchboard answers `501` and logs how to fix the server instead.
enum UpgradeNegotiation {
    /// Whether the request is being answered in an upgrade negotiation.
    @TaskLocal static var isNegotiating = false

    /// Logged once per process: the error a developer needs, not one per client.
    private static let reportedUnknownServer = Atomic<Bool>(false)

    /// The error for an upgrade request that cannot be upgraded where it is being answered; `nil` when it can.
    static func refusal(logger: Logger) -> SwitchboardError? {
        if isNegotiating { return nil }
        if !reportedUnknownServer.exchange(true, ordering: .relaxed) {
            logger.error(
                "A WebSocket upgrade reached Switchboard on a server that cannot upgrade; build the Application with server: .switchboard(webSocketRouter: router, configuration: configuration)"
            )
        }
        return SwitchboardError(
            .notImplemented, code: .internalError, "This server is not set up for WebSocket connections; its log says how to fix it")
    }
}

/// The WebSocket router's responder, run with ``UpgradeNegotiation/isNegotiating`` set.
struct NegotiatingResponder<Base: HTTPResponder>: HTTPResponder {
    typealias Context = Base.Context
    let base: Base

    func respond(to request: Request, context: Context) async throws -> Response {
        try await UpgradeNegotiation.$isNegotiating.withValue(true) { try await base.respond(to: request, context: context) }
    }
}
