import Hummingbird

/// A router with Switchboard's routes, and those routes answered before its path trie.
///
/// `SwitchboardServer` adds Switchboard's routes to a new router first, so no middleware applies to them (a
/// router's middleware applies to routes added after it). Where no route of the application's own could
/// match a path below the root, resolving such a path in the trie finds Switchboard's handler every time, at
/// the cost of comparing the path `Character` by `Character` (a tenth of the server's work for a Shell `GET`
/// over HTTP); this responder checks the path's bytes (``SwitchboardEndpoint/takes(_:)``) and calls the handler
/// itself. Every other request goes to the router.
struct SwitchboardResponder<Context: SwitchboardRequestContextProtocol>: HTTPResponder {
    let router: RouterResponder<Context>
    let endpoint: SwitchboardEndpoint<Context>

    func respond(to request: Request, context: Context) async throws -> Response {
        guard endpoint.takes(request) else {
            // `OPTIONS *` asks about the server, not a resource (RFC 9110 §9.3.7; proxies and load balancers
            // send it to see that a server is up): the router's trie has no route for `*` and said `404`.
            if request.method == .options && request.head.path == "*" { return Self.serverOptions }
            return try await router.respond(to: request, context: context)
        }
        do {
            return try await endpoint.handler(request, context)
        } catch let error as any HTTPResponseError {
            // As the router answers what its routes throw.
            return try error.response(from: request, context: context)
        }
    }

    /// The answer to `OPTIONS *`: the methods that some resource of the server takes.
    static var serverOptions: Response {
        Response(
            status: .ok, headers: [.allow: "GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE, REPORT", .contentLength: "0"], body: ResponseBody())
    }
}

/// Builds a ``SwitchboardResponder`` from a router when the server starts, with the routes added by then
/// (``SwitchboardEndpoint/answering(besides:)``).
struct SwitchboardResponderBuilder<Context: SwitchboardRequestContextProtocol>: HTTPResponderBuilder {
    let router: Router<Context>
    let endpoint: SwitchboardEndpoint<Context>

    func buildResponder() -> SwitchboardResponder<Context> {
        let routes = router.routes.map { (path: $0.path.description, method: $0.method) }
        return SwitchboardResponder(router: router.buildResponder(), endpoint: endpoint.answering(besides: routes))
    }
}
