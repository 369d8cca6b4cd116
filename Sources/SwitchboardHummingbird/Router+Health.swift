public import Hummingbird
import HTTPTypes
import NIOCore

extension Router {
    /// Answers `GET` and `HEAD` at `path` with `200 ok`, without a key: for a load balancer's health check, a
    /// container orchestrator's probe or a service manager's watchdog, none of which holds a key.
    ///
    /// The answer says only that the server takes requests. A `Host` the server does not answer is `403`, as
    /// everywhere (``SwitchboardServerConfiguration/allowedHosts``). `switchboard serve` adds it at `/health`; an
    /// application that has a health route of its own need not call this.
    /// - Parameters:
    ///   - path: Where the answer is (`/health`).
    ///   - configuration: The server's configuration, for the hosts it answers.
    public func addHealthEndpoint(at path: String = "/health", configuration: SwitchboardServerConfiguration) {
        let guardian = configuration.browserGuard
        getAndHead(path) { request, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; charset=utf-8"
            headers[.cacheControl] = "no-store"
            guard guardian.allowsHost(request.head.authority) else { return .unknownHost(headers: headers) }
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: "ok\n")))
        }
    }

    /// Routes `GET` and `HEAD` at `path` to `handler`: a `HEAD` is answered as its `GET`, and NIO leaves out the
    /// body (RFC 9110 §9.3.2). Hummingbird's `get` routes `GET` alone, and a `HEAD` of the page was `404`.
    func getAndHead(_ path: String, use handler: @escaping @Sendable (Request, Context) async throws -> Response) {
        on(RouterPath(path), method: .get, use: handler)
        on(RouterPath(path), method: .head, use: handler)
    }
}

extension Response {
    /// The plain-text refusal of a `Host` the server does not answer, for the routes outside the API root
    /// (`/health`, `/metrics`, `/console`).
    static func unknownHost(headers: HTTPFields) -> Response {
        Response(status: .forbidden, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: "403: Forbidden. Unknown host\n")))
    }
}
