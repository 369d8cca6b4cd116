public import Hummingbird
public import HummingbirdWebSocket
import HTTPTypes
import Logging
import NIOCore
public import Switchboard

extension Router where Context: WebSocketRequestContext {
    /// Mounts a Switchboard API: WebSocket upgrades below the API root open terminals, and plain HTTP
    /// requests to terminals are answered `426 Upgrade required`.
    ///
    /// Serve the router with WebSocket upgrades enabled, using the same configuration:
    /// ```swift
    /// let router = Router(context: SwitchboardRequestContext.self)
    /// router.addSwitchboard(api, configuration: configuration)
    /// let app = Application(router: router, server: .switchboard(webSocketRouter: router, configuration: configuration))
    /// ```
    /// - Parameters:
    ///   - api: The API to serve.
    ///   - configuration: The API root and WebSocket settings.
    public func addSwitchboard(_ api: SwitchboardAPI, configuration: SwitchboardServerConfiguration = .init()) {
        let root = configuration.normalizedRoot
        let maxMessageSize = configuration.maxMessageSize
        let trustsProxyHeaders = configuration.trustsProxyHeaders
        let upgrade = WebSocketUpgradeMiddleware<Context> { _, _ in
            .upgrade([:])
        } onUpgrade: { inbound, outbound, webSocketContext in
            let request = webSocketContext.request
            let connection = Self.connectionRequest(
                for: request, root: root, remoteAddress: (webSocketContext.requestContext as? any RemoteAddressRequestContext)?.remoteAddress,
                trustsProxyHeaders: trustsProxyHeaders)
            try await api.serve(
                connection,
                inbound: InboundMessages(
                    messages: inbound.messages(maxSize: maxMessageSize), maxSize: maxMessageSize, outbound: outbound),
                transport: WebSocketTransport(outbound: outbound))
        }
        let handler: @Sendable (Request, Context) async throws -> Response = { request, context in
            if Self.isWebSocketUpgrade(request) {
                return try await upgrade.handle(request, context: context) { _, _ in Response(status: .notFound) }
            }
            return Self.plainResponse(to: request, root: root, api: api)
        }
        var paths = [root.isEmpty ? "/" : root, root + "/**"]
        if configuration.opensShellAtSlash && !root.isEmpty { paths.append("/") }
        for path in Set(paths) { get(RouterPath(path), use: handler) }
    }

    static func isWebSocketUpgrade(_ request: Request) -> Bool {
        guard let upgrade = request.headers[.upgrade], upgrade.lowercased().contains("websocket") else { return false }
        return request.headers[.connection]?.lowercased().contains("upgrade") == true
    }

    /// The answer to a plain HTTP request for a terminal: 426 (or the URI's error) with a JSON body.
    static func plainResponse(to request: Request, root: String, api: SwitchboardAPI) -> Response {
        let error: SwitchboardError
        do {
            let path = Self.pathBelowRoot(request.uri.path, root: root)
            let uri = request.uri.query.map { path + "?" + $0 } ?? path
            try api.validateTerminalURI(uri)
            let name = try api.terminal(named: ResourceURI(parsing: uri).resourceName).name
            error = SwitchboardError(
                .upgradeRequired, code: .upgradeRequired,
                "Connections to terminal resource '\(name)' must include a WebSocket upgrade handshake, as in: switchboard connect ws://HOST\(request.uri.path)"
            )
        } catch let failure {
            error = SwitchboardError(wrapping: failure)
        }
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        if error.status == 426 {
            headers[.upgrade] = "websocket"
            headers[.connection] = "Upgrade"
        }
        let body: JSON = [
            "Status": .int(error.status), "ErrorCode": .string(error.code.rawValue), "Message": .string(error.message),
        ]
        return Response(
            status: HTTPResponse.Status(code: error.status), headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(string: body.prettyPrinted + "\n")))
    }

    static func pathBelowRoot(_ path: String, root: String) -> String {
        if !root.isEmpty, path.hasPrefix(root) { return String(path.dropFirst(root.count)) }
        return path == "/" ? "" : path
    }

    static func connectionRequest(
        for request: Request, root: String, remoteAddress: SocketAddress?, trustsProxyHeaders: Bool
    ) -> ConnectionRequest {
        var headers = HeaderList()
        for field in request.headers { headers.append(name: field.name.rawName, value: field.value) }
        var clientIP = remoteAddress?.ipAddress ?? ""
        var isEncrypted = false
        if trustsProxyHeaders {
            if let forwarded = headers["X-Forwarded-For"]?.split(separator: ",").first?.trimmingCharacters(in: " ") {
                clientIP = forwarded
            }
            isEncrypted = headers["X-Forwarded-Proto"]?.lowercased() == "https"
        }
        return ConnectionRequest(
            path: pathBelowRoot(request.uri.path, root: root), query: request.uri.query, headers: headers,
            host: request.head.authority ?? headers["Host"] ?? "", clientIP: clientIP, isEncrypted: isEncrypted)
    }
}

extension Substring {
    func trimmingCharacters(in set: Character) -> String {
        var text = self
        while text.first == set { text.removeFirst() }
        while text.last == set { text.removeLast() }
        return String(text)
    }
}
