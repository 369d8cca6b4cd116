public import Logging
import Synchronization
import HTTPTypes

/// The resources of one Switchboard API and its live connections.
///
/// Register terminal types, then hand connections to ``serve(_:inbound:transport:)`` — usually through a
/// transport binding such as `SwitchboardHummingbird`, which mounts the API under a root path (`/api`).
/// The API is independent of any transport, so it can also be driven in-process.
///
/// ```swift
/// let api = SwitchboardAPI()
/// api.register { Echo() }
/// api.register { ChatRoom() }
/// ```
///
/// The home terminal (the Shell, with `SwitchboardAPI()` from the `Switchboard` module), the list of
/// resources, the WebSocket admin resource and the network console are registered from the start.
public final class SwitchboardAPI: Sendable {
    /// Limits and timings of the connections an API serves.
    public struct Configuration: Sendable {
        /// How many messages may wait for a busy terminal before the connection stops reading (default 256).
        public var inputQueueMessageLimit: Int
        /// How many bytes may wait for a busy terminal before the connection stops reading (default 4 MiB).
        /// A single larger message is still accepted when nothing else waits.
        public var inputQueueByteLimit: Int
        /// The longest URI, in bytes, accepted below the API root (default 8192).
        public var maxURILength: Int
        /// How long a closing connection waits for its terminals' `close` handlers (default 5 s).
        public var disposeTimeout: Duration
        /// How long a terminal may be busy with one message before global commands stop waiting for it
        /// (default 250 ms). Global commands normally keep their place in the input, after the messages sent
        /// before them; a terminal busy for longer than this is overtaken, so `#DISCONNECT`, `#SHELL` and
        /// the others always get through.
        public var busyThreshold: Duration
        /// The most conditions one query may have (default 100); more is a `400` before any store is asked.
        public var maxConditions: Int
        /// The largest `limit` one request may ask for (default 10,000); more is a `400`. A `GET` without a
        /// `limit` returns this many entities at most, with a `NextPage` link when there are more. Page with
        /// `limit` and `offset`.
        public var maxRowsPerRequest: Int
        /// How long reading an entity resource may take for one request (default 10 s): the store's select and
        /// the filtering, ordering and projection after it. Past it the request is answered `503` and the
        /// work is cancelled (see ``QueryProgress``).
        public var queryTimeout: Duration
        /// How many Shell commands one connection may run per second once its burst is spent (default 20; 0:
        /// no pacing). Faster commands wait their turn, in order; none is dropped.
        public var shellCommandsPerSecond: Double
        /// How many Shell commands one connection may run at once after a quiet spell (default 50).
        public var shellCommandBurst: Int
        /// The most bytes of client input all connections may hold at once, from reading (and inflating) a
        /// message until its terminal has handled it (default 256 MiB; see ``InboundMemoryBudget``).
        public var maxInboundBytes: Int
        /// How long a connection waits for room in ``maxInboundBytes`` before it is closed with
        /// `1013 Try again later` (default 5 s).
        public var inboundMemoryTimeout: Duration

        /// Creates a configuration; every parameter has a production default.
        /// How many errors `Switchboard.Admin.Error` keeps (the last ones); `0` keeps none, and status lines then
        /// name no entry.
        public var errorLogSize: Int

        public init(
            inputQueueMessageLimit: Int = 256, inputQueueByteLimit: Int = 4 << 20,
            maxURILength: Int = ResourceURI.defaultMaxLength, disposeTimeout: Duration = .seconds(5),
            busyThreshold: Duration = .milliseconds(250), maxConditions: Int = 100, maxRowsPerRequest: Int = 10_000,
            maxInboundBytes: Int = 256 << 20, inboundMemoryTimeout: Duration = .seconds(5), queryTimeout: Duration = .seconds(10),
            shellCommandsPerSecond: Double = 20, shellCommandBurst: Int = 50, errorLogSize: Int = 1000
        ) {
            self.errorLogSize = errorLogSize
            self.shellCommandsPerSecond = shellCommandsPerSecond
            self.shellCommandBurst = shellCommandBurst
            self.queryTimeout = queryTimeout
            self.maxInboundBytes = maxInboundBytes
            self.inboundMemoryTimeout = inboundMemoryTimeout
            self.maxConditions = maxConditions
            self.maxRowsPerRequest = maxRowsPerRequest
            self.busyThreshold = busyThreshold
            self.inputQueueMessageLimit = inputQueueMessageLimit
            self.inputQueueByteLimit = inputQueueByteLimit
            self.maxURILength = maxURILength
            self.disposeTimeout = disposeTimeout
        }
    }

    /// The configuration.
    public let configuration: Configuration
    /// Decides who callers are and what they may do (see ``Authenticator``).
    public let authenticator: any Authenticator
    let logger: Logger
    private let registry = Mutex(ResourceRegistry())
    private let documentTypeRegistry = Mutex<Set<String>>([])
    private let formatRegistry = Mutex<[any ResponseFormat]>([JSONLinesFormat()])
    private let dispatchers = Mutex<[String: ConnectionDispatcher]>([:])
    private let connectionCounter = Atomic<Int>(0)
    /// Set by ``closeAllConnections(code:reason:)``: connections that arrive later are closed at once.
    private let closingAll = Mutex<(code: CloseCode, reason: String)?>(nil)
    /// The feed of network events that `Switchboard.Admin.Console` shows.
    public let events: NetworkEvents
    /// The figures reported through swift-metrics (see `SwitchboardMetrics`).
    let metrics = SwitchboardMetrics()
    /// The cluster this API has joined, if any (``join(cluster:)``).
    let cluster: ClusterMembership
    /// The last errors answered to clients (`Switchboard.Admin.Error`).
    public let errors: ErrorLog
    /// Who listens to terminals opening and closing.
    let terminalRegistry = TerminalRegistry()
    /// The memory for client input that all connections share (``Configuration/maxInboundBytes``).
    public let inboundMemory: InboundMemoryBudget

    /// The terminal connections open when their URI names none, and return to with `#SHELL` and `#HOME`.
    public let home: HomeTerminal

    /// Creates an API with a home terminal of its own. `SwitchboardAPI(configuration:authenticator:logger:)`,
    /// from the `Switchboard` module, makes one whose home is the Shell.
    /// - Parameters:
    ///   - configuration: Limits and timings (see ``Configuration``).
    ///   - authenticator: Who callers are and what they may do. ``AllowAllAuthenticator`` gives every caller
    ///     every right: use it only in-process or on a machine of your own; a server others can reach needs
    ///     `APIKeyAuthenticator` (module `SwitchboardAPIKeys`) or one of your own.
    ///   - logger: The logger for connection events; each connection adds `sb.connection.id` to its metadata.
    ///   - home: The home terminal; it is registered with the built-in resources.
    public init(configuration: Configuration, authenticator: any Authenticator, logger: Logger, home: HomeTerminal) {
        self.configuration = configuration
        self.inboundMemory = InboundMemoryBudget(limit: configuration.maxInboundBytes)
        self.authenticator = authenticator
        self.logger = logger
        self.cluster = ClusterMembership(logger: logger)
        self.home = home
        let redactor = KeyRedactor(authenticator: authenticator)
        self.events = NetworkEvents(redactor: redactor)
        self.errors = ErrorLog(capacity: configuration.errorLogSize, redactor: redactor)
        add(.terminal(home.descriptor))
        register(resource: AvailableResources(api: self))
        register(resource: WebSocketAdmin(api: self, redactor: redactor))
        register(resource: ErrorLogResource(log: errors))
        register(resource: ResourceAdmin(api: self))
        register(resource: SchemaAdmin(api: self))
        register { [events, cluster] in NetworkConsole(events: events, cluster: cluster) }
    }

    // MARK: Resources

    /// Registers a terminal type.
    ///
    /// Switchboard calls `make` once now, to learn the type's properties, and then once for every connection
    /// that opens the terminal; keep it cheap and free of side effects (do real work in ``TerminalResource/open(_:)``).
    /// - Parameter make: Creates a new instance. Capture dependencies here.
    /// - Precondition: No other resource has the same full name.
    public func register<T: TerminalResource>(_ make: @escaping @Sendable () -> T) {
        add(.terminal(TerminalDescriptor(T.self, make: make)))
        if let members = T.self as? any GroupMemberTerminal.Type { registerGroupMembers(members) }
    }

    private func registerGroupMembers<T: GroupMemberTerminal>(_ type: T.Type) { cluster.register(type, api: self) }

    private func add(_ resource: RegisteredResource) {
        registry.withLock { registry in
            precondition(
                !registry.contains(lowercased: resource.name.lowercased()),
                "A resource named '\(resource.name)' is already registered")
            precondition(!resource.name.contains("-"), "Resource names cannot contain '-', which introduces a view")
            registry.append(resource)
        }
    }

    /// Registers an entity resource, served over HTTP and through the Shell.
    /// - Parameter resource: The resource; it is shared by every request.
    /// - Precondition: No other resource has the same full name, and the entity type's properties can be
    ///   learned (see ``EntitySchema``).
    public func register<R: EntityResource>(resource: R) {
        let descriptor: EntityDescriptor
        do {
            descriptor = try EntityDescriptor(resource)
        } catch {
            preconditionFailure("\(error)")
        }
        add(entity: descriptor)
    }

    /// Registers a resource whose entities live on this instance (``InstanceLocalResource``): it lists them,
    /// and once the API has joined a cluster (``join(cluster:)``) those of every live instance too.
    public func register<R: InstanceLocalResource>(resource: R) {
        register(resource: ClusterWideResource(local: resource, cluster: cluster))
        cluster.share(resource)
    }

    /// Registers an entity resource whose entities are also documents (``EntityDocumentResource``): `GET`
    /// with `Accept` naming one of its document types answers the one selected entity's document.
    public func register<R: EntityDocumentResource>(resource: R) {
        let descriptor: EntityDescriptor
        do {
            descriptor = try EntityDescriptor(documents: resource)
        } catch {
            preconditionFailure("\(error)")
        }
        add(entity: descriptor)
    }

    private func add(entity descriptor: EntityDescriptor) {
        documentTypeRegistry.withLock { $0.formUnion(descriptor.documentTypes) }
        for view in descriptor.views {
            precondition(!view.name.isEmpty && !view.name.contains("/"), "View names must be non-empty and without '/'")
            do {
                _ = try EntityQuery(uri: ResourceURI(resourceName: descriptor.name), resource: descriptor, view: view)
            } catch {
                preconditionFailure("View '\(view.name)' of '\(descriptor.name)': \(error)")
            }
        }
        add(.entity(descriptor))
    }

    /// Adds a response format, chosen by a request's `Accept` header (see ``ResponseFormat``). JSON and
    /// JSON Lines are always there.
    /// - Precondition: No registered format answers one of its media types already.
    public func register(format: any ResponseFormat) {
        formatRegistry.withLock { formats in
            let taken = Set(formats.flatMap(\.mediaTypes)).union(AcceptedFormat.jsonTypes)
            precondition(taken.isDisjoint(with: format.mediaTypes), "A format for \(format.mediaTypes) is already registered")
            formats.append(format)
        }
    }

    /// The media types of every registered resource's documents (``EntityDocumentResource``).
    var documentTypes: Set<String> { documentTypeRegistry.withLock { $0 } }

    /// The response formats besides JSON, in registration order.
    public var formats: [any ResponseFormat] { formatRegistry.withLock { $0 } }

    /// The registered terminal types, in registration order.
    public var terminals: [TerminalDescriptor] {
        registry.withLock { $0.all.compactMap { if case .terminal(let terminal) = $0 { terminal } else { nil } } }
    }

    /// The registered entity resources, in registration order.
    public var entityResources: [EntityDescriptor] {
        registry.withLock { $0.all.compactMap { if case .entity(let entity) = $0 { entity } else { nil } } }
    }

    /// Every registered resource, in registration order.
    public var resources: [RegisteredResource] { registry.withLock { $0.all } }

    /// Finds a resource by its full name or any dot-suffix of it, case-insensitively.
    ///
    /// When a short name matches more than one resource and exactly one of them is the application's (not
    /// one of Switchboard's own, ``isBuiltIn(_:)``), it names the application's: a `Console` terminal of yours
    /// is `/console`, and Switchboard's is still `/admin.console`. Otherwise the name is ambiguous.
    /// - Parameters:
    ///   - name: The name as written.
    ///   - identity: The caller, when there is one: the error then lists only the resources it may use.
    /// - Throws: A `404` ``SwitchboardError`` when no resource or more than one matches; it lists the names.
    public func resource(named name: String, visibleTo identity: AccessIdentity? = nil) throws(SwitchboardError) -> RegisteredResource {
        let lowercased = name.lowercased()
        // A full name (nearly every lookup) is found without making a list of matches.
        let (exact, matches) = registry.withLock { registry in
            registry.resource(lowercased: lowercased).map { ($0, []) } ?? (nil, registry.matches(lowercased: lowercased))
        }
        if let exact { return exact }
        if matches.count == 1 { return matches[0] }
        // A short name that is both the application's and Switchboard's own is the application's: built-in
        // resources stay reachable by a longer name (`admin.console`, `Switchboard.Admin.Console`).
        let applications = matches.filter { !Self.isBuiltIn($0.name) }
        if applications.count == 1 { return applications[0] }
        let all = resources
        let visible = identity.map { identity in all.filter { allowsAnyMethod(on: $0, for: identity) } } ?? all
        let names = visible.map(\.name).sorted().joined(separator: ", ")
        if matches.isEmpty {
            throw SwitchboardError(
                .notFound, code: .unknownResource, "Could not locate any resource by '\(name)'. Available resources: \(names)")
        }
        throw SwitchboardError(
            .notFound, code: .ambiguousResource,
            "'\(name)' matches more than one resource: \(matches.map(\.name).sorted().joined(separator: ", ")); write more of the name"
        )
    }

    /// Whether a resource name is one of Switchboard's own (`Switchboard.` and a name); see
    /// ``resource(named:visibleTo:)`` for how a short name shared with the application resolves.
    public static func isBuiltIn(_ name: String) -> Bool { name.lowercased().hasPrefix("switchboard.") }

    /// Finds a terminal type by its full name or any dot-suffix of it, case-insensitively; an empty name
    /// means the Shell.
    /// - Throws: A `404` ``SwitchboardError`` when no resource or more than one matches, or when the name is
    ///   an entity resource's.
    public func terminal(named name: String) throws(SwitchboardError) -> TerminalDescriptor {
        if name.isEmpty { return home.descriptor }
        switch try resource(named: name) {
        case .terminal(let terminal): return terminal
        case .entity(let entity):
            throw SwitchboardError(
                .notFound, code: .unknownResource,
                "'\(entity.name)' is an entity resource, not a terminal; query it over HTTP or from the Shell")
        }
    }

    /// Checks a terminal URI (relative to the API root) without opening anything.
    /// - Returns: The canonical form of the URI: full resource name, declared property names, normalised values.
    /// - Throws: ``SwitchboardError`` naming the problem.
    @discardableResult
    public func validateTerminalURI(_ uri: String) throws(SwitchboardError) -> String {
        try terminalTarget(forURI: uri).canonical
    }

    /// Resolves a URI a connection opens or is redirected to: an empty name is the Shell, and an entity
    /// resource opens the Shell placed at the entity query.
    func terminalTarget(forURI raw: String, for identity: AccessIdentity? = nil) throws(SwitchboardError) -> TerminalTarget {
        let uri = try ResourceURI(parsing: raw, maxLength: configuration.maxURILength)
        switch try resolve(uri, written: raw, emptyName: home.descriptor.name, for: identity) {
        case .terminal(let target):
            return target
        case .entities(let query):
            guard let property = home.locationProperty else {
                throw SwitchboardError(
                    .notFound, code: .unknownResource,
                    "'\(query.resource.name)' is an entity resource, not a terminal; query it over HTTP")
            }
            let location = try home.descriptor.schema.convert(name: property, input: .literal(.text(query.canonical, quoted: false)))
            return TerminalTarget(descriptor: home.descriptor, values: [location], canonical: query.canonical)
        }
    }

    /// The home terminal, with no assignments.
    var homeTarget: TerminalTarget {
        TerminalTarget(descriptor: home.descriptor, values: [], canonical: ResourceURI(resourceName: home.descriptor.name).description)
    }

    // MARK: Connections

    /// Serves one connection until it closes.
    ///
    /// Opens the terminal the request's URI names (the Shell for an empty one) and feeds it the inbound
    /// messages. A URI that does not resolve is answered with a status line and a close code of 4000 +
    /// its HTTP status. Cancelling the calling task finishes the connection as its end would: its terminal is
    /// closed and the call returns.
    /// - Parameters:
    ///   - request: Where the connection came from and which URI it asked for.
    ///   - inbound: The client's messages; the sequence ends when the client closes.
    ///   - transport: Sends messages to the client and closes the connection.
    /// - Throws: Errors from `inbound` (such as the transport's own protocol errors), after cleaning up.
    public func serve<Inbound: AsyncSequence & Sendable>(
        _ request: ConnectionRequest, inbound: Inbound, transport: some TerminalTransport
    ) async throws where Inbound.Element == TerminalMessage {
        guard let connection = await open(request, transport: transport) else { return }
        let endpoint = connection.dispatcher.endpoint
        try await withTaskCancellationHandler {
            try await connection.serve(inbound: inbound)
        } onCancel: {
            endpoint.endWaiting()
        }
    }

    /// A connection ``open(_:transport:)`` registered, to be served.
    ///
    /// Serving a connection in two steps lets a transport keep the frame that waits for the connection's end
    /// small: an idle connection's task keeps the deepest stack it has had (a task's allocator keeps its
    /// slabs), and the request, the upgrade and the authentication are then done in frames that are gone.
    package struct OpenedConnection: Sendable {
        let api: SwitchboardAPI
        let dispatcher: ConnectionDispatcher

        /// Serves the connection until it ends, then unregisters it; see ``SwitchboardAPI/serve(_:inbound:transport:)``.
        /// A cancellation of the calling task does not end it: the transport must end the input of a cancelled
        /// connection, or call `endWaiting()` on its endpoint.
        package func serve<Inbound: AsyncSequence & Sendable>(inbound: Inbound) async throws
        where Inbound.Element == TerminalMessage {
            defer { api.closed(dispatcher) }
            try await dispatcher.run(inbound: inbound)
        }
    }

    /// Authenticates the request if it came without an identity, then registers the connection and makes its
    /// dispatcher; `nil` once the client has been told why not. Serve it with ``OpenedConnection/serve(inbound:)``.
    @inline(never)
    package func open(_ request: ConnectionRequest, transport: some TerminalTransport) async -> OpenedConnection? {
        var identity = request.identity
        if identity == nil {
            identity = await authenticateOrRefuse(request, transport: transport)
            if identity == nil { return nil }
        }
        let dispatcher = register(request, identity: identity, transport: transport)
        if let closing = closingAll.withLock({ $0 }) {
            // The server is shutting down: this connection came in after the others were closed.
            await dispatcher.shutdown(code: closing.code, reason: closing.reason)
        }
        return OpenedConnection(api: self, dispatcher: dispatcher)
    }

    /// The identity of a request that came without one, by its headers; `nil` once the client has been told why not.
    private func authenticateOrRefuse(_ request: ConnectionRequest, transport: some TerminalTransport) async -> AccessIdentity? {
        do {
            return try await authenticate(headers: request.headers, uriKey: nil)
        } catch {
            try? await transport.send(.text(error.statusLine))
            try? await transport.close(code: .status(error.status), reason: error.statusLine)
            return nil
        }
    }

    /// Registers a new connection and makes its dispatcher.
    @inline(never)
    private func register(
        _ request: ConnectionRequest, identity: AccessIdentity?, transport: some TerminalTransport
    ) -> ConnectionDispatcher {
        var request = request
        request.identity = identity
        let id = Self.shortID(connectionCounter.add(1, ordering: .relaxed).newValue)
        let endpoint = ClientEndpoint(
            id: id, request: request, transport: transport, logger: logger, events: events, errors: errors, metrics: metrics)
        metrics.connectionOpened()
        cluster.noteChange()
        let dispatcher = ConnectionDispatcher(api: self, endpoint: endpoint)
        dispatchers.withLock { $0[id] = dispatcher }
        logger.debug(
            "Connection opened",
            metadata: ["sb.connection.id": .string(id), "sb.uri": .string(request.uri), "sb.client.ip": .string(request.clientIP)])
        events.publish(endpoint.event(.webSocketOpened))
        return dispatcher
    }

    /// Unregisters a connection that has ended.
    private func closed(_ dispatcher: ConnectionDispatcher) {
        let endpoint = dispatcher.endpoint
        events.publish(endpoint.event(.webSocketClosed))
        _ = dispatchers.withLock { $0.removeValue(forKey: endpoint.id) }
        metrics.connectionClosed()
        cluster.noteChange()
        logger.debug("Connection closed", metadata: ["sb.connection.id": .string(endpoint.id)])
    }

    /// The dispatchers of the connections being served.
    var liveDispatchers: [ConnectionDispatcher] { dispatchers.withLock { Array($0.values) } }

    /// The number of connections being served.
    public var connectionCount: Int { dispatchers.withLock { $0.count } }

    /// The ids of the connections being served.
    public var connectionIDs: [String] { dispatchers.withLock { Array($0.keys) } }

    /// Closes every connection (for a graceful shutdown) and waits until their terminals are closed.
    /// Connections that arrive afterwards are closed at once with the same code.
    /// - Parameters:
    ///   - code: The close code (default 1001, going away).
    ///   - reason: The close reason.
    public func closeAllConnections(code: CloseCode = .goingAway, reason: String = "Server shutting down") async {
        closingAll.withLock { $0 = (code, reason) }
        let all = dispatchers.withLock { Array($0.values) }
        await withTaskGroup(of: Void.self) { group in
            for dispatcher in all {
                group.addTask {
                    await dispatcher.shutdown(code: code, reason: reason)
                    await dispatcher.waitUntilFinished()
                }
            }
        }
    }

    /// Closes every connection opened with the key of this name (for a key that was revoked), with 1008.
    /// - Returns: How many connections were closed.
    @discardableResult
    public func closeConnections(of keyName: String, reason: String = "The key was revoked") async -> Int {
        let matching = dispatchers.withLock { $0.values.filter { !$0.endpoint.identity.isAnonymous && $0.endpoint.identity.name == keyName } }
        for dispatcher in matching { await dispatcher.endpoint.close(code: .policyViolation, reason: reason) }
        return matching.count
    }

    /// Closes one connection by id.
    /// - Returns: Whether a connection with that id was open.
    @discardableResult
    public func closeConnection(id: String, code: CloseCode = .normalClosure, reason: String = "") async -> Bool {
        guard let dispatcher = dispatchers.withLock({ $0[id] }) else { return false }
        await dispatcher.endpoint.close(code: code, reason: reason)
        return true
    }

    /// A short, readable id for the n-th connection: base 62, at least three characters.
    static func shortID(_ number: Int) -> String {
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        var value = number + 62 * 62
        var text = ""
        while value > 0 {
            text.append(alphabet[value % 62])
            value /= 62
        }
        return String(text.reversed())
    }
}

/// The registered resources in registration order, with their names lowercased once (names are looked up
/// for every request, case-insensitively).
struct ResourceRegistry {
    private(set) var all: [RegisteredResource] = []
    private(set) var lowercasedNames: [String] = []
    /// Where each lowercased name is in ``all``: a full name is found with one hash, not a comparison with
    /// every name registered (an HTTP request looks its resource up every time).
    private var positions: [String: Int] = [:]

    mutating func append(_ resource: RegisteredResource) {
        let lowercased = resource.name.lowercased()
        positions[lowercased] = all.count
        all.append(resource)
        lowercasedNames.append(lowercased)
    }

    /// Whether a resource of this name (lowercased) is registered.
    func contains(lowercased name: String) -> Bool { positions[name] != nil }

    /// The resource of exactly this name (lowercased), if one is registered.
    func resource(lowercased name: String) -> RegisteredResource? { positions[name].map { all[$0] } }

    /// The resource of exactly this name, or else every resource whose name ends in `.` and this name.
    func matches(lowercased name: String) -> [RegisteredResource] {
        if let exact = positions[name] { return [all[exact]] }
        let suffix = "." + name
        return zip(all, lowercasedNames).compactMap { resource, lowercased in lowercased.hasSuffix(suffix) ? resource : nil }
    }
}

/// A registered resource of either kind.
public enum RegisteredResource: Sendable {
    case terminal(TerminalDescriptor)
    case entity(EntityDescriptor)

    /// The full resource name.
    public var name: String {
        switch self {
        case .terminal(let terminal): terminal.name
        case .entity(let entity): entity.name
        }
    }

    /// What the resource is for.
    public var summary: String? {
        switch self {
        case .terminal(let terminal): terminal.summary
        case .entity(let entity): entity.summary
        }
    }

    /// `TerminalResource` or `EntityResource`.
    public var kind: String {
        switch self {
        case .terminal: "TerminalResource"
        case .entity: "EntityResource"
        }
    }

    /// The methods clients may use.
    public var methods: [RESTMethod] {
        switch self {
        case .terminal: [.GET, .OPTIONS]
        case .entity(let entity): entity.methods
        }
    }

    /// Whether clients may use `method` (whether ``methods`` contains it).
    public func supports(_ method: RESTMethod) -> Bool {
        switch self {
        case .terminal: method == .GET || method == .OPTIONS
        case .entity(let entity): entity.operations.supports(method)
        }
    }

    /// The names of the resource's properties and their types (`{"Name": "String", "Year": "Int"}`; nested
    /// objects inline): what `Switchboard.Admin.Schema` and the Shell's `SCHEMA` show.
    public var propertyTypes: JSON {
        switch self {
        case .terminal(let terminal): .object(JSONObject(terminal.properties.map { ($0.name, .string($0.typeName)) }))
        case .entity(let entity): entity.schema.json
        }
    }

    /// The names of the resource's views (entity resources only).
    public var viewNames: [String] {
        switch self {
        case .terminal: []
        case .entity(let entity): entity.views.map(\.name)
        }
    }

    /// What `OPTIONS` shows.
    public var options: JSON {
        switch self {
        case .terminal(let terminal): terminal.options
        case .entity(let entity): entity.options
        }
    }
}
