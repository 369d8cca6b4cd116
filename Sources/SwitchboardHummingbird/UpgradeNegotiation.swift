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

/// The WebSocket router's responder, run with ``UpgradeNegotiation/isNegotiating`` set; it gives an upgrade that
/// no route takes an answer that says so.
///
/// HummingbirdWebSocket answers every upgrade it declines with an empty `400 Bad Request`: a client that asked
/// for `ws://host/shell` (without the API root) or for the browser console's page learnt only that its request
/// was bad. Switchboard's own routes record their refusals themselves (``UpgradeRefusalHandler``); for the
/// others, with a Switchboard request context, this responder records one:
/// - a path no route takes, or a route that answers without upgrading (a page, `/health`): `404` with
///   Switchboard's JSON error, naming where terminals are (`NoWebSocketEndpoint`);
/// - a route's refusal of its own (a thrown `HTTPError`, or an answer other than `200`): its status and
///   fields, without its body.
struct NegotiatingResponder<Base: HTTPResponder>: HTTPResponder where Base.Context: WebSocketRequestContext {
    typealias Context = Base.Context
    let base: Base
    /// The API root (``SwitchboardServerConfiguration/normalizedRoot``), named in the `404`.
    let root: String

    func respond(to request: Request, context: Context) async throws -> Response {
        let response: Response
        do {
            response = try await UpgradeNegotiation.$isNegotiating.withValue(true) { try await base.respond(to: request, context: context) }
        } catch {
            if let context = context as? any SwitchboardRequestContextProtocol {
                let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
                await recordRefusal(status: status, headers: (error as? HTTPError)?.headers ?? [:], context: context)
            }
            throw error
        }
        if let context = context as? any SwitchboardRequestContextProtocol, response.status != .ok || !Self.leftAHandler(context) {
            await recordRefusal(status: response.status, headers: response.headers, context: context)
        }
        return response
    }

    /// Whether a route asked the context for its WebSocket handler's place, which a route that upgrades does.
    private static func leftAHandler(_ context: some SwitchboardRequestContextProtocol) -> Bool {
        context.switchboard.holder.wasAskedFor
    }

    /// Records the answer to a declined upgrade, unless its route recorded one.
    private func recordRefusal(status: HTTPResponse.Status, headers: HTTPFields, context: some SwitchboardRequestContextProtocol) async {
        let answer: ByteBuffer
        if status == .ok || status == .notFound {
            let error = SwitchboardError(
                .notFound, code: .noWebSocketEndpoint,
                "Nothing opens a WebSocket at this path; terminals are opened below \(root)/, such as \(root)/shell")
            answer = UpgradeRefusalHandler.serialize(
                Response(status: .notFound, headers: [.contentType: "application/json; charset=utf-8"]),
                body: error.body(uri: "").prettyPrinted + "\n")
        } else {
            answer = UpgradeRefusalHandler.serialize(Response(status: status, headers: headers), body: "")
        }
        await context.switchboard.refuseUpgradeUnlessRefused(with: answer)
    }
}
