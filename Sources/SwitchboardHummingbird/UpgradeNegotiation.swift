import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import Switchboard
import Synchronization

/// Where a request that asks for a WebSocket upgrade is being answered, so that Switchboard's route can tell
/// an upgrade that will happen from one that cannot.
///
/// Hummingbird runs the routes of a WebSocket router twice over: during the upgrade negotiation of a
/// connection's first request (where a `200` with a handler upgrades), and as plain HTTP for every other
/// request (where that `200` would reach the client as an empty answer). A server that is not built with
/// `.switchboard(webSocketRouter:configuration:)` only ever does the second.
enum UpgradeNegotiation {
    /// Whether the request is being answered in an upgrade negotiation.
    @TaskLocal static var isNegotiating = false

    /// Logged once per process: the error a developer needs, not one per client.
    private static let reportedUnknownServer = Atomic<Bool>(false)

    /// The error for an upgrade request that cannot be upgraded where it is being answered; `nil` when it can.
    /// A plain request on Switchboard's server (a later request of a keep-alive connection) has
    /// ``ClosingResponseHandler`` in its pipeline; one on another server does not.
    static func refusal(channel: any Channel, logger: Logger) async -> SwitchboardError? {
        if isNegotiating { return nil }
        let onSwitchboardServer = (try? await channel.eventLoop.submit {
            _ = try channel.pipeline.syncOperations.handler(type: ClosingResponseHandler.self)
        }.get()) != nil
        if onSwitchboardServer {
            return SwitchboardError(
                .badRequest, code: .invalidInput,
                "A WebSocket upgrade must be the first request on its connection; open a new connection for it")
        } else {
            if !reportedUnknownServer.exchange(true, ordering: .relaxed) {
                logger.error(
                    "A WebSocket upgrade reached Switchboard on a server that cannot upgrade; build the Application with server: .switchboard(webSocketRouter: router, configuration: configuration)"
                )
            }
            return SwitchboardError(
                .notImplemented, code: .internalError, "This server is not set up for WebSocket connections; its log says how to fix it")
        }
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
