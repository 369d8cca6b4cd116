import Hummingbird
import HummingbirdWebSocket
import HTTPTypes
import NIOCore
import Switchboard

/// What the routes of `Router.addSwitchboard(_:configuration:)` answer with: an upgrade to a terminal, or a
/// plain HTTP request through the REST layer.
///
/// Each is a function of its own, and the checks that run no `await` are plain functions beside them: an
/// upgrade runs on the connection's task, which keeps for the life of the WebSocket every slab of stack it
/// ever took, so the frame that waits on an upgrade's `await`s holds only what crosses them.
struct SwitchboardRoute<Context: SwitchboardRequestContextProtocol>: Sendable {
    let api: SwitchboardAPI
    let root: String
    let trustedProxies: [IPAddressRange]
    let isTLS: Bool
    let guardian: BrowserGuard
    let admission: ConnectionAdmission
    let upgrade: WebSocketUpgradeMiddleware<Context>
    let maxBodySize: Int

    /// Upgrades a WebSocket request to a terminal, or refuses it: the refusal's response is also kept on the
    /// connection's pipeline, which writes it in place of the upgrade (see `UpgradeRefusalHandler`).
    @inline(never)
    func upgrade(_ request: Request, context: Context) async throws -> Response {
        let admitted: ConnectionToAdmit
        do throws(SwitchboardError) {
            admitted = try checkedUpgrade(request, context: context)
            _ = try await api.authorizeConnection(uri: admitted.uri, headers: request.headers, uriKey: admitted.uriKey)
            try admission.admit(admitted.clientIP)
        } catch {
            return await refuse(error, path: request.uri.path, context: context)
        }
        do {
            return try await upgrade.handle(request, context: context) { _, _ in Response(status: .notFound) }
        } catch {
            admission.withdraw(admitted.clientIP)
            guard let error = error as? SwitchboardError else { throw error }
            return await refuse(error, path: request.uri.path, context: context)
        }
    }

    /// Refuses a WebSocket upgrade asked for with another method than `GET` (RFC 6455 §4.1), before anything
    /// of the request runs, and ends the connection (NIO's decoder parses nothing after an upgrade request).
    ///
    /// A server built with `.switchboard(webSocketRouter:configuration:)` serves such a request, on a
    /// connection's first request, as the plain request it also is (`HTTP1HeadNormalizer` takes its `Upgrade`
    /// out); this is for the rest: Hummingbird's own `http1WebSocketUpgrade`, which negotiates it by running the
    /// route with an empty body, and a later request that spells it otherwise than `websocket` (Hummingbird sends
    /// that spelling to a new connection with `307`).
    @inline(never)
    func refuseUpgrade(byMethodOf request: Request, context: Context) async -> Response {
        let error = SwitchboardError(
            .badRequest, code: .invalidInput,
            "A WebSocket is opened with GET; send the \(request.method.rawValue.prefix(20)) without asking for an upgrade")
        var response = await refuse(error, path: request.uri.path, context: context)
        Router<Context>.closeAfter(&response, channel: context.switchboard.channel)
        return response
    }

    /// Answers a plain HTTP request: checks its host and origin, then hands it to the REST layer.
    @inline(never)
    func respond(to request: Request, context: Context) async -> Response {
        let connection: SwitchboardConnectionRequest
        do throws(SwitchboardError) {
            connection = try checked(request, context: context, isUpgrade: false)
        } catch {
            // Refused before its body is read, as a wrong key is (`Router.refusalBeforeBody`).
            return Router<Context>.refusalBeforeBody(
                error, uri: Router<Context>.shownPath(request.uri.path, root: root), headers: request.headers,
                channel: context.switchboard.channel)
        }
        // Pages of a listed origin may read the answers (CORS); with no origin listed, as by default, nothing
        // is looked up.
        let sharedOrigin =
            guardian.allowedOrigins.isEmpty ? nil : request.headers[.origin].flatMap { guardian.sharesAnswers(withOrigin: $0) ? $0 : nil }
        if let sharedOrigin, CrossOriginSharing.isPreflight(request) {
            return CrossOriginSharing.preflightResponse(origin: sharedOrigin, request: request)
        }
        var response = await Router<Context>.restResponse(
            to: request, connection: connection, api: api, maxBodySize: maxBodySize, channel: context.switchboard.channel)
        if let sharedOrigin { CrossOriginSharing.share(&response, withOrigin: sharedOrigin) }
        return response
    }

    /// What an upgrade's `await`s need of its request.
    private struct ConnectionToAdmit {
        let uri: String
        let uriKey: String?
        let clientIP: String
    }

    @inline(never)
    private func checkedUpgrade(_ request: Request, context: Context) throws(SwitchboardError) -> ConnectionToAdmit {
        let connection = try checked(request, context: context, isUpgrade: true)
        if let refusal = UpgradeNegotiation.refusal(logger: context.logger) { throw refusal }
        return ConnectionToAdmit(uri: connection.request.uri, uriKey: connection.uriKey, clientIP: connection.request.clientIP)
    }

    /// The host, then (for upgrades and state-changing methods) the origin; the request as the core reads it.
    private func checked(_ request: Request, context: Context, isUpgrade: Bool) throws(SwitchboardError) -> SwitchboardConnectionRequest {
        // The first `Host` is the request's authority; a second one stays among its fields. Which one a proxy
        // in front would have believed is anyone's guess (RFC 9112 §3.2: answer 400).
        if request.headers[.secondHost] != nil {
            throw SwitchboardError(.badRequest, code: .invalidInput, "The request has more than one Host field; send one")
        }
        guard guardian.allowsHost(request.head.authority) else {
            throw SwitchboardError(
                .forbidden, code: .hostNotAllowed,
                "This server does not answer for the host '\((request.head.authority ?? "").prefix(100))'; add it with --allow-host")
        }
        let connection = try Router<Context>.connectionRequest(
            for: request, root: root, remoteAddress: context.remoteAddress, trustedProxies: trustedProxies, isTLS: isTLS)
        if isUpgrade || !Self.onlyReads(request.method) {
            guard guardian.allowsOrigin(request.headers[.origin], host: request.head.authority) else {
                throw SwitchboardError(
                    .forbidden, code: .originNotAllowed,
                    "Cross-origin request refused: origin '\((request.headers[.origin] ?? "").prefix(100))' is not this server's; add it with --allow-origin"
                )
            }
        }
        return connection
    }

    /// Whether a request's method only reads: `GET`, `HEAD`, `OPTIONS` and `REPORT` need no origin check.
    private static func onlyReads(_ method: HTTPRequest.Method) -> Bool {
        method == .get || method == .head || method == .options || method.rawValue == "REPORT"
    }

    /// The response refusing an upgrade, also kept on the connection's pipeline to be written in its place.
    @inline(never)
    private func refuse(_ error: SwitchboardError, path: String, context: Context) async -> Response {
        let uri = Router<Context>.shownPath(path, root: root)
        let response = Router<Context>.errorResponse(error, uri: uri)
        await context.switchboard.refuseUpgrade(
            with: UpgradeRefusalHandler.serialize(response, body: error.body(uri: uri).prettyPrinted + "\n"))
        return response
    }
}

extension HTTPField.Name {
    /// `Host` among a request's fields, where only a second one is found: the first is its authority.
    fileprivate static let secondHost = HTTPField.Name("Host")!
}
