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
            // The upgrade has read its handler: let the request context go (see SwitchboardRequestContext).
            (webSocketContext.requestContext as? any ReleasesWebSocketReference)?.releaseWebSocketReference()
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
        let maxBodySize = configuration.maxBodySize
        let handler: @Sendable (Request, Context) async throws -> Response = { request, context in
            if request.method == .get && Self.isWebSocketUpgrade(request) {
                return try await upgrade.handle(request, context: context) { _, _ in Response(status: .notFound) }
            }
            return await Self.restResponse(
                to: request, context: context, root: root, api: api, maxBodySize: maxBodySize, trustsProxyHeaders: trustsProxyHeaders)
        }
        var paths = [root.isEmpty ? "/" : root, root + "/**"]
        if configuration.opensShellAtSlash && !root.isEmpty { paths.append("/") }
        let methods: [HTTPRequest.Method] = [.get, .post, .put, .patch, .delete, .head, .options, HTTPRequest.Method("REPORT")!]
        for path in Set(paths) {
            for method in methods where !(path == "/" && root != "" && method != .get) {
                on(RouterPath(path), method: method, use: handler)
            }
        }
    }

    /// Answers a plain HTTP request through the REST layer; GET on a terminal gets `426 Upgrade required`.
    static func restResponse(
        to request: Request, context: Context, root: String, api: SwitchboardAPI, maxBodySize: Int, trustsProxyHeaders: Bool
    ) async -> Response {
        let path = Self.pathBelowRoot(request.uri.path, root: root)
        let uri = request.uri.query.map { path + "?" + $0 } ?? path
        if request.method == .get, let terminal = Self.terminalResponse(to: request, uri: uri, api: api) { return terminal }
        let connection = Self.connectionRequest(
            for: request, root: root, remoteAddress: (context as? any RemoteAddressRequestContext)?.remoteAddress,
            trustsProxyHeaders: trustsProxyHeaders)
        let response: RESTResponse
        if let method = RESTMethod(rawValue: request.method.rawValue) {
            var body: ByteBuffer?
            do {
                var request = request
                let collected = try await request.collectBody(upTo: maxBodySize)
                if collected.readableBytes > 0 { body = collected }
            } catch {
                return Self.errorResponse(
                    SwitchboardError(.payloadTooLarge, code: .invalidInput, "The body is larger than \(maxBodySize) bytes"), uri: uri)
            }
            response = await api.execute(
                RESTRequest(
                    method: method, uri: uri, headers: connection.headers, body: body,
                    caller: RESTCaller(clientIP: connection.clientIP, headers: connection.headers)))
        } else {
            return Self.errorResponse(
                SwitchboardError(.methodNotAllowed, code: .methodNotAllowed, "Method '\(request.method.rawValue)' is not supported"), uri: uri)
        }
        api.events.publish(
            NetworkEvent(
                kind: .httpRequest, connectionID: nil, clientIP: connection.clientIP,
                message: "\(request.method.rawValue) \(request.uri.path) → \(response.status)", content: request.uri.description,
                elapsedMilliseconds: response.elapsedMilliseconds))
        var headers = HTTPFields()
        for field in response.headers {
            if let name = HTTPField.Name(field.name) { headers.append(HTTPField(name: name, value: field.value)) }
        }
        let body = response.bodyText.map { ResponseBody(byteBuffer: ByteBuffer(string: $0)) } ?? ResponseBody()
        return Response(status: HTTPResponse.Status(code: response.status), headers: headers, body: body)
    }

    static func errorResponse(_ error: SwitchboardError, uri: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        if error.status == 426 {
            headers[.upgrade] = "websocket"
            headers[.connection] = "Upgrade"
        }
        return Response(
            status: HTTPResponse.Status(code: error.status), headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(string: error.body(uri: uri).prettyPrinted + "\n")))
    }

    static func isWebSocketUpgrade(_ request: Request) -> Bool {
        guard let upgrade = request.headers[.upgrade], upgrade.lowercased().contains("websocket") else { return false }
        return request.headers[.connection]?.lowercased().contains("upgrade") == true
    }

    /// The answer to a plain HTTP GET for a terminal: `426 Upgrade required` with a JSON body; `nil` for
    /// URIs that are not a terminal's.
    static func terminalResponse(to request: Request, uri: String, api: SwitchboardAPI) -> Response? {
        guard let parsed = try? ResourceURI(parsing: uri), !parsed.baseResourceName.isEmpty,
            case .terminal(let terminal)? = try? api.resource(named: parsed.baseResourceName)
        else { return nil }
        do {
            try api.validateTerminalURI(uri)
        } catch {
            return errorResponse(error, uri: uri)
        }
        return errorResponse(
            SwitchboardError(
                .upgradeRequired, code: .upgradeRequired,
                "Connections to terminal resource '\(terminal.name)' must include a WebSocket upgrade handshake, as in: switchboard connect ws://HOST\(request.uri.path)"
            ), uri: uri)
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
