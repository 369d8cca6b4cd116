public import Hummingbird
import HummingbirdWebSocket
import HTTPTypes
import Logging
import NIOCore
import NIOWebSocket
import ServiceLifecycle
public import Switchboard

extension Router where Context: SwitchboardRequestContextProtocol {
    /// Mounts a Switchboard API: WebSocket upgrades below the API root open terminals, and plain HTTP
    /// requests to terminals are answered `426 Upgrade required`.
    ///
    /// Every request is checked before anything else runs: its `Host` (``SwitchboardServerConfiguration/allowedHosts``),
    /// for upgrades and state-changing requests its `Origin` (``SwitchboardServerConfiguration/allowedOrigins``),
    /// then its key, with the API's `Authenticator`; an upgrade is refused with `401` or `403` before it
    /// happens (a URI that does not resolve is answered after it, with a status line and a 4xxx close). A key may come in the URI right after the root (`/api(<key>)/shell`): it is taken
    /// out before the URI is used, shown or logged.
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
        addSwitchboardRoutes(api, configuration: configuration)
    }

    /// Adds the routes of ``addSwitchboard(_:configuration:)`` and returns them as one endpoint, which a
    /// ``SwitchboardResponder`` in front of this router answers without the router's path trie.
    @discardableResult
    func addSwitchboardRoutes(_ api: SwitchboardAPI, configuration: SwitchboardServerConfiguration) -> SwitchboardEndpoint<Context> {
        let root = configuration.normalizedRoot
        let trustedProxies = configuration.trustedProxies
        let isTLS = configuration.tls != nil
        let guardian = configuration.browserGuard
        let admission = ConnectionAdmission(
            maxConnections: configuration.maxConnections, maxConnectionsPerClient: configuration.maxConnectionsPerClient)
        let upgraded = UpgradedConnection(api: api, configuration: configuration, admission: admission)
        let upgrade = WebSocketUpgradeMiddleware<Context> { request, _ in
            // A browser that sends its key as a subprotocol offers `switchboard` beside it, and fails the
            // connection unless one of its offers is answered.
            AccessCredentials.offersSubprotocol(request.headers) ? .upgrade([.secWebSocketProtocol: AccessCredentials.subprotocol]) : .upgrade([:])
        } onUpgrade: { inbound, outbound, webSocketContext in
            try await upgraded.serve(inbound: inbound, outbound: outbound, context: webSocketContext)
        }
        let route = SwitchboardRoute(
            api: api, root: root, trustedProxies: trustedProxies, isTLS: isTLS, guardian: guardian,
            admission: admission, upgrade: upgrade, maxBodySize: configuration.maxBodySize)
        // Two functions of their own, not one closure: the connection's task keeps the largest stack it has
        // had (a Swift task's allocator keeps its slabs), and an upgrade's frame then holds only what an
        // upgrade needs, for the whole life of the WebSocket.
        let handler: @Sendable (Request, Context) async throws -> Response = { request, context in
            // One look-up for every request: nearly all have no `Upgrade`.
            if let upgrade = request.headers[.upgrade], Self.asksForUpgrade(request) {
                if upgrade.lowercased().contains("websocket") {
                    if request.method == .get { return try await route.upgrade(request, context: context) }
                    // Never run as a plain request in an upgrade's negotiation, which has no body and whose
                    // answer HummingbirdWebSocket would replace with its `400`.
                    return await route.refuseUpgrade(byMethodOf: request, context: context)
                }
                // Another protocol (`h2c`) asked for on a later request of a connection (`HTTP1HeadNormalizer`
                // takes it out of a first one): served over HTTP/1.1, and the answer ends the connection, since
                // NIO's decoder parses nothing after it.
                var response = await route.respond(to: request, context: context)
                Self.closeAfter(&response, channel: context.switchboard.channel)
                return response
            }
            return await route.respond(to: request, context: context)
        }
        let endpoint = SwitchboardEndpoint<Context>(
            root: root, opensShellAtSlash: configuration.opensShellAtSlash == true, handler: handler)
        for (path, methods) in SwitchboardEndpoint<Context>.routes(root: root, opensShellAtSlash: endpoint.opensShellAtSlash) {
            for method in methods { on(RouterPath(path), method: method, use: handler) }
        }
        return endpoint
    }

    /// Answers a plain HTTP request through the REST layer; GET on a terminal gets `426 Upgrade required`.
    static func restResponse(
        to request: Request, connection: SwitchboardConnectionRequest, api: SwitchboardAPI, maxBodySize: Int, channel: any Channel
    ) async -> Response {
        let uri = connection.request.uri
        var response: RESTResponse
        guard let method = RESTMethod(rawValue: request.method.rawValue) else {
            return Self.unknownMethodResponse(request.method, uri: uri, headers: connection.headers, channel: channel)
        }
        let identity: AccessIdentity
        do {
            identity = try await api.authenticate(headers: connection.headers, uriKey: connection.uriKey)
        } catch {
            return Self.refusalBeforeBody(error, uri: uri, headers: connection.headers, channel: channel)
        }
        // Parsed once, here and for the request below.
        let parsed = try? ResourceURI(parsing: uri, maxLength: api.configuration.maxURILength)
        // A GET's resource is looked up here, to answer one on a terminal, and then not again below. A HEAD is
        // answered as its GET is, without the body (RFC 9110 §9.3.2): `426` on a terminal, not `405`.
        var named: RegisteredResource?
        if method == .GET || method == .HEAD, let parsed, !parsed.baseResourceName.isEmpty {
            named = try? api.resource(named: parsed.baseResourceName)
            if case .terminal(let terminal)? = named {
                var response = Self.terminalResponse(
                    to: terminal, uri: uri, path: connection.shownPath, headers: connection.headers, api: api, identity: identity)
                if Self.endsWithoutItsBody(connection.headers) { Self.closeAfter(&response, channel: channel) }
                return response
            }
        }
        var body: ByteBuffer?
        // A GET or HEAD whose head announces no body has none to read (RFC 9112 §6.3), and the REST layer
        // reads no body for them: Hummingbird reads the request's end after the response, as it does for
        // every request. (Over HTTP/2 a body needs no such field; a GET's would be left unread, which is
        // what the REST layer does with it.)
        if !(method == .GET || method == .HEAD) || Self.framesBody(connection.headers) {
            // A body in a content coding (gzip, …) would be read as JSON and fail as a syntax error; refused
            // from the head, with the coding that is taken (RFC 9110 §15.5.16).
            if let coding = connection.headers[.contentEncoding], coding.lowercased() != "identity", Self.framesBody(connection.headers) {
                var response = Self.refusalBeforeBody(.unsupportedContentEncoding(coding), uri: uri, headers: connection.headers, channel: channel)
                response.headers[.acceptEncoding] = "identity"
                return response
            }
            // So would one in a transfer coding other than `chunked` (`Transfer-Encoding: gzip, chunked`), which the
            // HTTP parser takes apart only as far as its chunks: a coding the server does not understand is `501`
            // (RFC 9112 §6.1).
            if let coding = Self.transferCodingNotUnderstood(connection.headers) {
                return Self.refusalBeforeBody(
                    SwitchboardError(
                        .notImplemented, code: .unsupportedInput,
                        "Unsupported Transfer-Encoding '\(SwitchboardError.excerpt(coding))'; send the body chunked or with a Content-Length"),
                    uri: uri, headers: connection.headers, channel: channel)
            }
            // A body its head says is too large is refused before any of it is read (and before a client
            // that waits for `100 Continue` sends it).
            if let length = connection.headers[.contentLength].flatMap({ Int($0) }), length > maxBodySize {
                var response = Self.errorResponse(Self.bodyTooLarge(maxBodySize), uri: uri)
                Self.closeAfter(&response, channel: channel)
                return response
            }
            if Self.awaitsContinue(connection.headers) {
                channel.triggerUserOutboundEvent(ClosingResponseHandler.SendContinue(), promise: nil)
            }
            do {
                var request = request
                let collected = try await request.collectBody(upTo: maxBodySize)
                if collected.readableBytes > 0 { body = collected }
            } catch {
                // Its answer ends the connection: the handler that closes it is told before it is written.
                channel.triggerUserOutboundEvent(ClosingResponseHandler.CloseAfterResponse(), promise: nil)
                return Self.errorResponse(Self.bodyTooLarge(maxBodySize), uri: uri)
            }
        }
        // A body must say it is JSON: a cross-site form or `fetch` without CORS can only send other types.
        if body != nil {
            let contentType = connection.headers[.contentType]
            if !(contentType.map { RESTRequest.isJSONContentType($0) } ?? false) {
                return Self.errorResponse(.unsupportedContentType(contentType), uri: uri)
            }
        }
        // Made where it is handed on, so that it is moved into the API rather than copied.
        response = await api.execute(
            RESTRequest(
                method: method, uri: uri, headers: connection.headers, body: body,
                caller: RESTCaller(clientIP: connection.request.clientIP, headers: connection.headers, identity: identity),
                parsedURI: parsed, namedResource: named, wantsCanonicalURI: false, wantsPrintedBody: true))
        api.events.publish(
            NetworkEvent(
                kind: .httpRequest, connectionID: nil, clientIP: connection.request.clientIP,
                message: "\(request.method.rawValue) \(connection.shownPath) → \(response.status)", content: connection.shownURI,
                elapsedMilliseconds: response.elapsedMilliseconds))
        // Taken out, so that the fields added here change them in place rather than copy them.
        var headers = response.headers
        response.headers = HTTPFields()
        if response.status == 401 { headers[.wwwAuthenticate] = Self.authenticationChallenge }
        if response.status == 405, let allow = Self.allowedMethods(of: named, parsed: parsed, api: api) { headers[.allow] = allow }
        let responseBody: ResponseBody
        if let document = response.document {
            // Read as the client takes it: a large file is never held whole.
            responseBody = ResponseBody(asyncSequence: document.makeBytes())
        } else if let body = response.bodyBuffer {
            // Appended here, where nobody has set it, rather than looked up and set by `Response`.
            headers.append(HTTPField(name: .contentLength, value: String(body.readableBytes)))
            responseBody = ResponseBody(byteBuffer: body)
        } else {
            responseBody = ResponseBody()
        }
        return Response(status: SwitchboardError.standardStatus(response.status), headers: headers, body: responseBody)
    }

    /// Whether a request's head announces a body: a `Transfer-Encoding`, or a `Content-Length` other than `0`.
    /// Without either, HTTP/1.1 gives the request no body (RFC 9112 §6.3), and the parser reads what follows
    /// as the next request.
    static func framesBody(_ headers: HTTPFields) -> Bool {
        for field in headers {
            if field.name == .transferEncoding { return true }
            if field.name == .contentLength, field.value != "0" { return true }
        }
        return false
    }

    /// A transfer coding of the request other than `chunked`, if it has one.
    static func transferCodingNotUnderstood(_ headers: HTTPFields) -> String? {
        for value in headers[values: .transferEncoding] {
            for coding in value.split(separator: ",") {
                let name = String(coding.filter { $0 != " " && $0 != "\t" })
                if !name.isEmpty && name.lowercased() != "chunked" { return name }
            }
        }
        return nil
    }

    /// The `Allow` field a `405` must have (RFC 9110 §15.5.6): the methods of the resource the URI names, `nil`
    /// when it names none.
    static func allowedMethods(of named: RegisteredResource?, parsed: ResourceURI?, api: SwitchboardAPI) -> String? {
        let resource = named ?? parsed.flatMap { $0.baseResourceName.isEmpty ? nil : try? api.resource(named: $0.baseResourceName) }
        switch resource {
        case .entity(let entity)?: return entity.methods.map(\.rawValue).joined(separator: ", ")
        case .terminal?: return "GET, HEAD, OPTIONS"
        case nil: return nil
        }
    }

    /// Whether the client waits for `100 Continue` before it sends the body its head announces
    /// (`Expect: 100-continue`, RFC 9110 §10.1.1).
    static func awaitsContinue(_ headers: HTTPFields) -> Bool {
        guard let expectation = headers[.expect], expectation.utf8.count == 12 else { return false }
        return expectation.lowercased() == "100-continue" && framesBody(headers)
    }

    /// An answer given before the body is read. Hummingbird reads and drops the body of a request that
    /// keeps its connection, and the connection goes on; two kinds of request end it instead, and
    /// ``ClosingResponseHandler`` then reads and drops what the client still sends until it closes
    /// (``endsWithoutItsBody(_:)``).
    static func refusalBeforeBody(_ error: SwitchboardError, uri: String, headers: HTTPFields, channel: any Channel) -> Response {
        var response = errorResponse(error, uri: uri)
        if endsWithoutItsBody(headers) { closeAfter(&response, channel: channel) }
        return response
    }

    /// The answer to a method the REST layer does not know (`PROPFIND`, `TRACE`, `CONNECT`): `501 Not
    /// implemented`, which RFC 9110 §15.6.2 gives to a method the server supports for no resource (a `405`
    /// says the resource has other methods). (A `CONNECT`'s answer ends its connection: `HTTP1HeadNormalizer`.)
    static func unknownMethodResponse(_ method: HTTPRequest.Method, uri: String, headers: HTTPFields, channel: any Channel) -> Response {
        let methods = RESTMethod.allCases.map(\.rawValue).joined(separator: ", ")
        let error = SwitchboardError(
            .notImplemented, code: .methodNotImplemented,
            "Method '\(SwitchboardError.excerpt(method.rawValue))' is not implemented here; the methods are \(methods)")
        var response = refusalBeforeBody(error, uri: uri, headers: headers, channel: channel)
        // NIO's decoder parses nothing after a `CONNECT`: its answer ends the connection (a connection's first
        // request has that from `HTTP1HeadNormalizer` already, a later one from here).
        if method == .connect { closeAfter(&response, channel: channel) }
        return response
    }

    /// Whether a request whose body is not read ends its connection with the answer:
    /// - a client that waits for `100 Continue` may send its body after the answer, or never (curl never
    ///   does), so the connection cannot tell where a next request would begin (Go's server and nginx end it
    ///   too);
    /// - after a request that says `Connection: close` (Python's `urllib` says it), Hummingbird reads nothing
    ///   more: a client that sent its whole body before it read (as `urllib` does) waited for the idle
    ///   timeout, 30 s, and then had its connection reset without seeing the answer.
    static func endsWithoutItsBody(_ headers: HTTPFields) -> Bool {
        guard framesBody(headers) else { return false }
        if awaitsContinue(headers) { return true }
        return headers[values: .connection].contains { value in
            value.lowercased().split(separator: ",").contains { $0.filter { $0 != " " && $0 != "\t" } == "close" }
        }
    }

    /// Ends the connection once `response` is written (``ClosingResponseHandler``).
    static func closeAfter(_ response: inout Response, channel: any Channel) {
        channel.triggerUserOutboundEvent(ClosingResponseHandler.CloseAfterResponse(), promise: nil)
        response.headers[.connection] = "close"
    }

    static func bodyTooLarge(_ maxBodySize: Int) -> SwitchboardError {
        SwitchboardError(.contentTooLarge, code: .invalidInput, "The body is larger than the \(maxBodySize) bytes a request may have")
    }

    /// What a `401` asks for: a bearer key (not Basic, which would make browsers show a password dialog).
    static var authenticationChallenge: String { #"Bearer realm="Switchboard""# }

    static func errorResponse(_ error: SwitchboardError, uri: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        if error.status == 426 {
            headers[.upgrade] = "websocket"
            headers[.connection] = "Upgrade"
        }
        if error.status == 401 { headers[.wwwAuthenticate] = authenticationChallenge }
        // The body was not read: end the connection rather than read megabytes nobody wants.
        if error.status == 413 { headers[.connection] = "close" }
        return Response(
            status: HTTPResponse.Status(code: error.status), headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(string: error.body(uri: uri).prettyPrinted + "\n")))
    }

    /// Whether a request's `Connection` field lists `upgrade`, which makes its `Upgrade` field a request.
    static func asksForUpgrade(_ request: Request) -> Bool {
        request.headers[.connection]?.lowercased().contains("upgrade") == true
    }

    /// The answer to a plain HTTP GET for a terminal: `426 Upgrade required` with a JSON body (or the
    /// caller's `401`/`403`).
    ///
    /// A request that carries some of a handshake (`HTTP1HeadNormalizer` serves an incomplete one as a plain
    /// request) is told what a handshake needs, and one for another WebSocket version which version this server
    /// speaks, in `Sec-WebSocket-Version` too (RFC 6455 §4.4).
    static func terminalResponse(
        to terminal: TerminalDescriptor, uri: String, path: String, headers: HTTPFields, api: SwitchboardAPI, identity: AccessIdentity
    ) -> Response {
        do {
            try api.authorize(.GET, on: .terminal(terminal), for: identity)
            try api.validateTerminalURI(uri)
        } catch {
            return errorResponse(error, uri: uri)
        }
        var message =
            "Connections to terminal resource '\(terminal.name)' must include a WebSocket upgrade handshake, as in: switchboard connect ws://HOST\(path)"
        let version = headers[.secWebSocketVersion]
        if let version, version != "13" {
            message += "; this server speaks WebSocket version 13, and the request asked for version '\(SwitchboardError.excerpt(version))'"
        } else if version != nil || headers[.secWebSocketKey] != nil {
            message += "; a handshake has Upgrade: websocket, Connection: Upgrade, one Sec-WebSocket-Key and Sec-WebSocket-Version: 13"
        }
        var response = errorResponse(SwitchboardError(.upgradeRequired, code: .upgradeRequired, message), uri: uri)
        if version != nil { response.headers[.secWebSocketVersion] = "13" }
        return response
    }

    /// The path below the root as errors show it: without a `(<key>)` part.
    static func shownPath(_ path: String, root: String) -> String {
        let below = pathBelowRoot(path, root: root)
        guard below.hasPrefix("(") else { return below }
        return (try? AccessCredentials.splitURIKey(below[...])).flatMap { $0.map { String($0.rest) } } ?? ""
    }

    static func pathBelowRoot(_ path: String, root: String) -> String {
        guard !root.isEmpty else { return path == "/" ? "" : path }
        // By bytes where the root's bytes begin the path and an ASCII byte (or nothing) follows them, so that the
        // root ends where a character does; by characters otherwise (the same text, composed another way).
        var (pathText, rootText) = (path, root)
        let below: String? = pathText.withUTF8 { bytes in
            rootText.withUTF8 { root in
                guard bytes.count >= root.count, UnsafeBufferPointer(rebasing: bytes[..<root.count]).elementsEqual(root),
                    bytes.count == root.count || bytes[root.count] < 0x80
                else { return nil }
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[root.count...]), as: UTF8.self)
            }
        }
        if let below { return below }
        if path.hasPrefix(root) { return String(path.dropFirst(root.count)) }
        return path == "/" ? "" : path
    }

    /// The connection request for an HTTP request, with the key taken out of a `/api(<key>)/...` path.
    static func connectionRequest(
        for request: Request, root: String, remoteAddress: SocketAddress?, trustedProxies: [IPAddressRange], isTLS: Bool = false
    ) throws(SwitchboardError) -> SwitchboardConnectionRequest {
        let headers = request.headers
        let forwarded = ForwardedClient(
            peer: remoteAddress?.ipText ?? "", isTLS: isTLS, headers: headers, trustedProxies: trustedProxies)
        let clientIP = forwarded.address
        let isEncrypted = forwarded.isEncrypted
        var path = pathBelowRoot(request.uri.path, root: root)
        var uriKey: String?
        if let split = try AccessCredentials.splitURIKey(path[...]) {
            uriKey = split.key
            path = String(split.rest)
        }
        return SwitchboardConnectionRequest(
            request: ConnectionRequest(
                path: path, query: request.uri.query, headers: headers,
                host: request.head.authority ?? "", clientIP: clientIP, isEncrypted: isEncrypted),
            uriKey: uriKey, root: root)
    }
}

/// A request as Switchboard reads it, and the key its URI carried (kept apart, never shown).
struct SwitchboardConnectionRequest: Sendable {
    var request: ConnectionRequest
    let uriKey: String?
    let root: String

    var headers: HTTPFields { request.headers }
    var identity: AccessIdentity? {
        get { request.identity }
        set { request.identity = newValue }
    }
    /// The path as logs and the console show it: below the root, with no key.
    var shownPath: String { root + request.path }
    var shownURI: String { root + request.uri }
}

extension Substring {
    func trimmingCharacters(in set: Character) -> String {
        var text = self
        while text.first == set { text.removeFirst() }
        while text.last == set { text.removeLast() }
        return String(text)
    }
}
