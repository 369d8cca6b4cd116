#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
public import Logging
public import NIOCore
import Synchronization
public import HTTPTypes

/// A terminal's handle on the connection it is attached to: send, redirect, close, and read the profile.
///
/// Switchboard passes one to every handler of a ``TerminalResource``. Keep it if the terminal sends on its
/// own (a chat room pushing others' messages, a PTY streaming output). Once the connection switches to
/// another terminal the handle is *detached*: its sends throw ``TerminalConnectionError/detached`` and
/// nothing reaches the client.
public struct TerminalConnection: Sendable {
    let dispatcher: ConnectionDispatcher
    let endpoint: ClientEndpoint
    let generation: Int

    /// Whether this terminal type was attached to this connection before and got its property values back
    /// (only for types whose ``TerminalResource/restoresPropertiesOnReturn`` is `true`).
    public let isReturning: Bool

    init(dispatcher: ConnectionDispatcher, endpoint: ClientEndpoint, generation: Int, isReturning: Bool) {
        self.dispatcher = dispatcher
        self.endpoint = endpoint
        self.generation = generation
        self.isReturning = isReturning
    }

    /// The connection's short id (as in `#INFO` and the logs).
    public var id: String { endpoint.id }
    /// A logger whose metadata carries the connection id (`sb.connection.id`).
    public var logger: Logger { endpoint.logger }
    /// The API the connection belongs to.
    public var api: SwitchboardAPI { dispatcher.api }
    /// Who the caller is: the key's name and rights, set when the connection was authenticated.
    public var identity: AccessIdentity { endpoint.identity }
    /// The connection's profile, as `#INFO` shows it.
    public var profile: ConnectionProfile { endpoint.profile }
    /// The connection's headers: those of the upgrade request, updated by `#INFO {"CustomHeaders": ...}`.
    public var headers: HTTPFields { endpoint.headers }
    /// The custom headers among ``headers`` (`HTTPFields.custom`): those a terminal passes on to the REST
    /// requests it makes.
    public var customHeaders: HTTPFields { endpoint.customHeaders }
    /// The client's IP address, as the profile shows it.
    public var clientIP: String { endpoint.request.clientIP }
    /// Whether this terminal is still attached and the connection open.
    public var isAttached: Bool { !endpoint.isClosed && endpoint.generation.load(ordering: .acquiring) == generation }

    /// Sends a text message.
    /// - Throws: ``TerminalConnectionError`` when detached, closed, or the transport could not deliver.
    public func send(_ text: String) async throws { try await endpoint.send(.text(text), generation: generation) }

    /// Sends a binary message.
    public func send(_ bytes: ByteBuffer) async throws { try await endpoint.send(.binary(bytes), generation: generation) }

    /// Sends bytes that are valid UTF-8, cut at whole characters, as a text message, without making a
    /// `String` of them (a PTY's output, which its session has already cut and checked). Bytes that are not
    /// valid UTF-8 would make the client close the connection.
    package func send(utf8Text: ByteBuffer) async throws { try await endpoint.send(utf8Text: utf8Text, generation: generation) }

    /// The event loop the connection is served on, if its transport has one (``TerminalTransport/eventLoop``).
    package var eventLoop: (any EventLoop)? { endpoint.eventLoop }

    /// Hands bytes of whole UTF-8 characters to the connection as a text message without waiting, when it
    /// can take them at once (nothing else being sent, room to write) and this terminal is attached; returns
    /// whether it did, and the caller otherwise sends them with ``send(utf8Text:)``. Any thread may call it;
    /// it never waits (a PTY's event loop passes a keystroke's echo on this way).
    package func sendAtOnce(utf8Text: ByteBuffer) -> Bool { endpoint.sendAtOnce(utf8Text: utf8Text, generation: generation) }

    /// After ``sendAtOnce(utf8Text:)`` refused, asks for `resume` to be called on the connection's event loop
    /// once the connection can write again, or closes; returns whether it will be (`false`: send with
    /// ``send(utf8Text:)``). Called on the connection's event loop (``eventLoop``) only.
    package func callWhenWritable(_ resume: @escaping @Sendable () -> Void) -> Bool {
        endpoint.callWhenWritable(resume, generation: generation)
    }

    /// Sends a message.
    public func send(_ message: TerminalMessage) async throws { try await endpoint.send(message, generation: generation) }

    /// Runs `body`, and sends what it sends together: each message is handed to the connection as it is sent,
    /// in order, and they reach the network in one write when `body` returns rather than in one write each.
    /// For a few messages that answer one input (the Shell sends a status line, the entities and the location
    /// this way). The transport writes sooner when its buffer fills, so a large output is never held whole.
    /// Keep `body` to the sends: output that waits for something slow inside it waits with it.
    nonisolated(nonsending) public func sendingTogether<Result>(_ body: () async throws -> Result) async rethrows -> Result {
        try await endpoint.sendingTogether(body)
    }

    /// Sends one text message written in parts, as they come, without holding it whole: on WebSocket each part
    /// is a fragment, written once the last one is. Other output to the connection waits until the message is
    /// whole, so it stays in order. An error thrown by `parts` ends the message with what was sent and is
    /// rethrown.
    ///
    /// ```swift
    /// try await connection.send(textParts: rows.lazy.map { $0.compact + "\n" }.async)
    /// ```
    public func send<Parts: AsyncSequence>(textParts parts: Parts) async throws where Parts.Element == String {
        try await endpoint.sendMessage(binary: false, parts: MessageParts(parts.map { ByteBuffer(string: $0) }), generation: generation)
    }

    /// Sends one binary message written in parts; see ``send(textParts:)``.
    public func send<Parts: AsyncSequence>(binaryParts parts: Parts) async throws where Parts.Element == ByteBuffer {
        try await endpoint.sendMessage(binary: true, parts: MessageParts(parts), generation: generation)
    }

    /// Sends JSON as one pretty-printed text message.
    public func send(json: JSON) async throws { try await send(json.prettyPrinted) }

    /// Sends an `Encodable` value as one pretty-printed JSON text message (keys sorted, dates in ISO 8601).
    /// - Throws: `EncodingError` if the value does not encode; nothing is sent then.
    // Disfavoured: a dictionary or array literal stays `JSON`, in `JSON`'s own layout.
    @_disfavoredOverload
    public func send(json value: some Encodable) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(ISO8601.format(date))
        }
        try await send(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// Who is calling, for requests this terminal makes on the client's behalf: the connection's id, client
    /// address, headers and identity. Requests made with it have the client's rights, no more.
    public var caller: RESTCaller {
        RESTCaller(connectionID: id, clientIP: clientIP, headers: headers, identity: identity)
    }

    /// Runs a REST request on this API on the client's behalf (``caller``), as `GET`, `POST` and the rest do
    /// over HTTP, with the client's rights.
    /// ```swift
    /// let response = await connection.execute(.POST, ResourceURI(resourceName: "chore"), body: ["Title": "Dishes"])
    /// ```
    /// - Returns: The response; a refused or failed request is a response with its status and error, not a
    ///   thrown error.
    public func execute(_ method: RESTMethod, _ uri: ResourceURI, body: JSON? = nil) async -> RESTResponse {
        var headers = HTTPFields()
        if body != nil { headers[.contentType] = "application/json" }
        return await api.execute(
            RESTRequest(
                method: method, uri: uri.description, headers: headers, body: body.map { ByteBuffer(string: $0.compact) },
                caller: caller))
    }

    /// Sends an error as a status line (`404: Not found. ...`); see ``SwitchboardError/init(wrapping:logger:)``.
    public func send(error: any Error) async throws {
        try await send(endpoint.logged(SwitchboardError(wrapping: error, logger: logger)).statusLine)
    }

    /// Sets one of the connection's custom headers (as `#INFO {"CustomHeaders": {...}}` does); `nil` removes it.
    /// - Throws: A `400` ``SwitchboardError`` for reserved or invalid names and values.
    public func setHeader(_ name: String, to value: String?) throws(SwitchboardError) {
        let object: JSONObject = ["CustomHeaders": .object([name: value.map(JSON.string) ?? .null])]
        let updated = try endpoint.headers.updatingCustomHeaders(from: object)
        endpoint.headers = updated
    }

    /// Switches the connection to the terminal a URI names (relative to the API root, such as
    /// `/echo/prefix=>`), detaching and closing this one.
    /// - Throws: ``SwitchboardError`` if the URI does not resolve or its assignments are invalid; then
    ///   nothing changes. ``TerminalConnectionError/detached`` if this terminal is no longer attached.
    public func redirect(to uri: String) async throws { try await dispatcher.redirect(from: generation, to: uri) }

    /// Switches the connection to the resource a URI value names, with every condition value encoded as it
    /// must be: the safe way to put a client's text in a redirect.
    /// ```swift
    /// try await connection.redirect(to: ResourceURI(resourceName: "chore", conditions: [.init(key: "Owner", op: .equal, value: owner)]))
    /// ```
    /// An entity resource's URI opens the Shell there (as `/chore/owner=bob` does from the Shell's prompt).
    public func redirect(to uri: ResourceURI) async throws { try await dispatcher.redirect(from: generation, to: uri.description) }

    /// Switches the connection to a terminal resolved before (``SwitchboardAPI/resolve(_:for:)``), with the
    /// property values its URI assigned; as ``redirect(to:)-(String)``, without parsing the URI again.
    public func redirect(to target: TerminalTarget) async throws { try await dispatcher.redirect(from: generation, to: target) }

    /// Waits for this connection's next turn under the API's command pace (50 commands at once, then 20 a
    /// second by default: ``SwitchboardAPI/Configuration/shellCommandsPerSecond``). A terminal that does
    /// real work for each message, as the Shell does, calls it first, so no client makes the server work
    /// faster than that. Turns are taken in order, and none is refused; returning to a terminal does not
    /// refill them.
    /// - Throws: `CancellationError` if the connection closes while waiting.
    public func takeCommandTurn() async throws { try await dispatcher.commandPacer.take() }

    /// Switches the connection back to the API's home terminal (the Shell, unless the API has its own),
    /// which restores the state it had on this connection.
    public func redirectToShell() async throws { try await dispatcher.redirect(from: generation, to: dispatcher.api.homeTarget) }

    /// Closes the connection.
    /// - Parameters:
    ///   - code: The close code (default 1000).
    ///   - reason: The close reason, cut to 123 bytes.
    public func close(_ code: CloseCode = .normalClosure, reason: String = "") async {
        guard isAttached else { return }
        await endpoint.close(code: code, reason: reason)
    }

    /// Sets properties of this terminal from literals as a URI or `VAR` writes them, all or none, then calls
    /// ``PropertyCheckingTerminal/propertiesDidChange(_:on:)`` when the terminal conforms to it.
    /// - Returns: The declared names of the properties set.
    @discardableResult
    public func setProperties(_ assignments: [(name: String, literal: String)]) async throws -> [String] {
        try await dispatcher.setProperties(
            from: generation, assignments.map { ($0.name, .literal(PropertyLiteral($0.literal))) })
    }

    /// This terminal's properties as JSON, in declaration order.
    public var properties: JSON {
        get async throws { try await dispatcher.propertiesJSON(for: generation) }
    }
}

/// The parts of a message as the transport takes them: any sequence of bytes, its errors as `any Error`.
struct MessageParts<Base: AsyncSequence>: AsyncSequence where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer
    let base: Base
    init(_ base: Base) { self.base = base }

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        mutating func next() async throws -> ByteBuffer? { try await base.next() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator()) }
}
