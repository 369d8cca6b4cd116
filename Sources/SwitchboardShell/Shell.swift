public import NIOCore
public import SwitchboardCore
import HTTPTypes

/// The built-in command shell: navigate the API's resources by URI, query and change entities, and enter
/// terminals.
///
/// Type a URI relative to the API root (`/superhero/year>1950`) or `GO <uri>` to navigate; `GET` (or an
/// empty line) gets the entities there, or enters the terminal there. `POST`, `PUT`, `PATCH`, `DELETE`,
/// `REPORT`, `HEAD` and `OPTIONS` run on the current location (or an inline one: `PATCH /x/id=1 {...}`);
/// a line starting with `{` or `[` is POSTed. `NEXT`, `PREV`, `FIRST`, `LAST` and `ALL` page,
/// `OBSERVE` streams entities, `HEADER` sets request headers, `VAR` shows and sets the Shell's properties,
/// `HELP` lists the commands, `EXIT` closes the connection. After each command the Shell sends `? <query>`.
/// PATCH and DELETE on more than one entity ask for a Y/N confirmation unless the `Unsafe` property is on.
///
/// When the connection comes back to the Shell (`#SHELL`, or a terminal redirecting), it gets back the
/// properties it had on that connection, including its location.
public actor Shell: TextInputTerminal, BinaryInputTerminal, PropertyCheckingTerminal {
    public static var resourceName: String { "Switchboard.Shell" }
    public static var resourceDescription: String {
        "The Switchboard shell: navigate the API's resources by URI and enter terminals"
    }
    public static var restoresPropertiesOnReturn: Bool { true }

    /// The greeting, with an example drawn from what the API has (see ``example(in:for:entities:)``).
    static func banner(api: SwitchboardAPI, identity: AccessIdentity) -> String {
        "### Entering the Switchboard shell. Type HELP for commands, or a URI such as /\(example(in: api, for: identity)) to navigate. ###"
    }

    /// The shortest name that reaches the application's first resource the caller may use (a terminal,
    /// unless `entities`), or Switchboard's resource list when there is none: examples name only what exists,
    /// and never a resource the caller has no right on.
    static func example(in api: SwitchboardAPI, for identity: AccessIdentity, entities: Bool = false) -> String {
        let candidates = api.resources.filter { resource in
            guard !SwitchboardAPI.isBuiltIn(resource.name), api.allowsAnyMethod(on: resource, for: identity) else { return false }
            if case .entity = resource { return true }
            return !entities
        }
        let preferred = entities ? candidates : candidates.filter { if case .terminal = $0 { true } else { false } } + candidates
        guard let resource = preferred.first else { return "availableresource" }
        let short = String(resource.name.split(separator: ".").last ?? "").lowercased()
        if let found = try? api.resource(named: short), found.name == resource.name { return short }
        return resource.name.lowercased()
    }
    static let closingBanner = "### Closing the Switchboard shell... ###"

    @Property(description: "The current location, a URI relative to the API root; all commands act on it")
    var query = ""
    @Property(description: "Run PATCH and DELETE on several entities without asking for confirmation")
    var unsafe = false
    @Property(description: "Send the result's headers after each status line")
    var writeHeaders = false
    @Property(description: "After navigating, run GET (enters terminals); turns AutoOptions off")
    var autoGet = false
    @Property(description: "After navigating, show OPTIONS for the new location; turns AutoGet off")
    var autoOptions = false
    @Property(description: "Replace the query with its canonical form after navigating")
    var reformatQueries = true
    @Property(description: "Send result bodies as binary messages (default false: as text, which every line client shows)")
    var binaryBodies = false

    /// Where ``query`` points, resolved once: kept with the text it was resolved from, and resolved again
    /// only when ``query`` changes (by navigation, `VAR`, or property values restored on return).
    /// The location resolved: ``query`` when it was made, the resolution, and the URI text it came from
    /// (`nil` for a page moved to).
    private var location: (query: String, resolved: ResolvedURI, written: String?)?
    /// The line that shows the location (`? /x/y`), made again only when ``query`` changes: a client repeating
    /// a command gets the same line after every answer.
    private var locationLine: (query: String, line: ByteBuffer)?

    /// Creates a Shell; Switchboard makes one per connection that opens it.
    public init() {}

    public func open(_ connection: TerminalConnection) async throws {
        if connection.isReturning || query.isEmpty {
            try await connection.send(Self.banner(api: connection.api, identity: connection.identity))
            try await sendLocation(connection)
        } else {
            await navigate(to: query, on: connection, echo: true, setQuery: false)
        }
    }

    public func propertiesDidChange(_ changes: PropertyChanges, on connection: TerminalConnection) async throws {
        if changes.contains($autoGet) && changes.contains($autoOptions) && autoGet && autoOptions {
            throw SwitchboardError(
                .badRequest, code: .invalidPropertyValue, "AutoGet and AutoOptions are mutually exclusive; set at most one of them to true")
        }
        if changes.contains($autoGet) && autoGet {
            autoOptions = false
        } else if changes.contains($autoOptions) && autoOptions {
            autoGet = false
        }
        if changes.contains($query) && !query.isEmpty {
            try move(to: query, on: connection)
        }
    }

    public func receive(text: String, from connection: TerminalConnection) async throws {
        try await connection.takeCommandTurn()
        if let pending = pendingConfirmation {
            try await answer(text, to: pending, on: connection)
            return
        }
        let line = text.trimmingWhitespace()
        if line.isEmpty {
            try await run(method: .GET, argument: "", on: connection)
            return
        }
        if line.hasPrefix("/") {
            await navigate(to: line, on: connection, echo: true)
            return
        }
        if line.hasPrefix("{") || line.hasPrefix("[") {
            try await run(method: .POST, argument: line, on: connection)
            return
        }
        let (word, rest) = line.splitAtFirstWhitespace()
        var argument = rest.trimmingWhitespace()
        let command = word.uppercased()
        switch command {
        case "GO", "NAVIGATE", "?":
            if argument.isEmpty {
                try await connection.send(query.isEmpty ? "< empty >" : query)
            } else {
                await navigate(to: argument, on: connection, echo: true)
            }
        case _ where RESTMethod(rawValue: command) != nil:
            if argument.hasPrefix("/") {
                let (path, rest) = argument.splitAtFirstWhitespace()
                argument = rest.trimmingWhitespace()
                guard await navigate(to: String(path), on: connection, echo: false, automatic: false) else {
                    try await sendLocation(connection)
                    return
                }
            }
            try await run(method: RESTMethod(rawValue: command)!, argument: argument, on: connection)
        case "NEXT", "PREV", "PREVIOUS", "FIRST", "LAST", "ALL":
            try await page(command, argument: argument, on: connection)
        case "OBSERVE":
            try await observe(argument, on: connection)
        case "SCHEMA":
            try await schema(on: connection)
        case "HEADERS", "HEADER":
            try await header(argument, on: connection)
        case "VAR":
            try await variable(argument, on: connection)
        case "HELP":
            try await connection.send(help(api: connection.api, identity: connection.identity))
            try await sendLocation(connection)
        case "EXIT", "QUIT", "CLOSE", "DISCONNECT":
            try await connection.send(Self.closingBanner)
            await connection.close(.normalClosure, reason: "")
        default:
            try await connection.send(
                error: SwitchboardError(
                    .badRequest, code: .unknownCommand, "Unknown command '\(SwitchboardError.excerpt(String(word)))'. Type HELP for the list of commands"))
            try await sendLocation(connection)
        }
    }

    /// Binary input is POSTed to the current query.
    public func receive(binary: ByteBuffer, from connection: TerminalConnection) async throws {
        try await connection.takeCommandTurn()
        guard pendingConfirmation == nil else {
            try await connection.send(
                error: SwitchboardError(
                    .badRequest, code: .shellError, "Binary input cannot answer the confirmation; type 'Y' to continue, 'N' to cancel"))
            return
        }
        try await run(method: .POST, body: binary, on: connection)
    }

    // MARK: Navigation

    func sendLocation(_ connection: TerminalConnection) async throws {
        let query = self.query
        let line: ByteBuffer
        if let cached = locationLine, cached.query == query {
            line = cached.line
        } else {
            line = ByteBuffer(string: String(concatenating: "? ", query.isEmpty ? "<no query>" : query))
            locationLine = (query, line)
        }
        try await connection.send(utf8Text: line)
    }

    /// Resolves a URI and makes it the location: ``query`` becomes its canonical form if
    /// ``reformatQueries`` is on. On failure nothing changes.
    func move(to uri: String, on connection: TerminalConnection) throws(SwitchboardError) {
        guard uri.hasPrefix("/") else {
            throw SwitchboardError(
                .badRequest, code: .shellError, "Shell queries must begin with '/', as in /\(uri)")
        }
        // The same text as the location's resolves the same way (the connection's identity does not change,
        // and every request is authorized again when it runs): a client repeating `GET /x/y` parses it once.
        if let location, location.written == uri {
            // Already there (the query unchanged since): nothing to store again.
            let same = location.query == query && (reformatQueries ? location.resolved.canonical : uri) == query
            if !same { move(to: location.resolved, writtenAs: uri) }
            return
        }
        move(to: try connection.api.resolve(uri, for: connection.identity), writtenAs: uri)
    }

    /// Makes a resolved URI the location.
    private func move(to resolved: ResolvedURI, writtenAs uri: String? = nil) {
        query = reformatQueries ? resolved.canonical : uri ?? resolved.canonical
        location = (query, resolved, uri)
    }

    /// The current location, resolved; resolved anew only if ``query`` changed since.
    func currentLocation(on connection: TerminalConnection) throws(SwitchboardError) -> ResolvedURI? {
        guard !query.isEmpty else { return nil }
        if let location, location.query == query { return location.resolved }
        let resolved = try connection.api.resolve(query, for: connection.identity)
        location = (query, resolved, query)
        return resolved
    }

    /// Moves to a new location. On failure the location stays where it was and the client gets the error.
    /// - Returns: Whether the navigation succeeded.
    @discardableResult
    func navigate(
        to uri: String, on connection: TerminalConnection, echo: Bool, automatic: Bool = true, setQuery: Bool = true
    ) async -> Bool {
        do {
            try move(to: uri, on: connection)
        } catch {
            try? await connection.send(error: error)
            if echo { try? await sendLocation(connection) }
            return false
        }
        do {
            if automatic && autoGet {
                try await run(method: .GET, argument: "", on: connection)
            } else if automatic && autoOptions {
                try await run(method: .OPTIONS, argument: "", on: connection)
            } else if echo {
                try await sendLocation(connection)
            }
        } catch {
            try? await connection.send(error: error)
        }
        return true
    }

    // MARK: Methods

    /// Sends the current resource's properties and their types (what `Switchboard.Admin.Schema` has for it), to
    /// anyone who may see its `OPTIONS`.
    func schema(on connection: TerminalConnection) async throws {
        do {
            guard let location = try currentLocation(on: connection) else {
                throw SwitchboardError(
                    .badRequest, code: .shellError,
                    "There is no resource to show the schema of; navigate first, as in /\(Self.example(in: connection.api, for: connection.identity))")
            }
            let resource: RegisteredResource
            switch location {
            case .entities(let entityQuery):
                let options = await execute(.OPTIONS, on: entityQuery, body: nil, connection: connection)
                if let error = options.error { throw error }
                resource = .entity(entityQuery.resource)
            case .terminal(let target): resource = .terminal(target.descriptor)
            }
            try await connection.send("200: OK. The properties of '\(resource.name)' and their types")
            try await connection.send(json: resource.propertyTypes)
        } catch let error as TerminalConnectionError {
            throw error
        } catch {
            try await connection.send(error: error)
        }
        try await sendLocation(connection)
    }

    /// Runs a method on the current location, with a text argument as the body.
    func run(method: RESTMethod, argument: String, on connection: TerminalConnection) async throws {
        try await run(method: method, body: argument.isEmpty ? nil : ByteBuffer(string: argument), on: connection)
    }

    /// Runs a method on the current location: enters terminals, and sends entity results as a status line,
    /// the headers (with ``writeHeaders``), the body as one binary message, and `? <query>`.
    func run(method: RESTMethod, body: ByteBuffer?, on connection: TerminalConnection, confirmed: Bool = false) async throws {
        let response: RESTResponse
        do {
            guard let location = try currentLocation(on: connection) else {
                throw SwitchboardError(
                    .badRequest, code: .shellError,
                    "There is no query to run \(method) on; navigate first, as in /\(Self.example(in: connection.api, for: connection.identity))")
            }
            guard case .entities(let entityQuery) = location else {
                guard case .terminal(let target) = location else { return }
                try await runOnTerminal(target, method: method, body: body, on: connection)
                return
            }
            if (method == .PATCH || method == .DELETE) && !confirmed {
                // Counted first with Unsafe on too, so that nothing matching is answered the same way either way.
                let count = await execute(.REPORT, on: entityQuery, body: nil, connection: connection).entityCount ?? 0
                if count == 0 {
                    throw SwitchboardError(.badRequest, code: .shellError, "No entities to run \(method) on")
                }
                // `unsafe=true` in the URI says yes as the Unsafe property does.
                if count > 1 && !unsafe && !entityQuery.unsafe {
                    let name = entityQuery.resource.name
                    pendingConfirmation = PendingConfirmation(method: method, body: body)
                    try await connection.send(
                        "This will run \(method) on \(count) entities in resource '\(name)'. Type 'Y' to continue, 'N' to cancel")
                    return
                }
            }
            response = await execute(method, on: entityQuery, body: body, connection: connection, unsafe: confirmed || unsafe)
        } catch let error as TerminalConnectionError {
            throw error
        } catch {
            try await connection.sendingTogether {
                try await connection.send(error: error)
                try await sendLocation(connection)
            }
            return
        }
        // The answer's few messages leave in one write; a document goes out part by part as it is read.
        if response.document != nil {
            try await sendAnswer(response, to: method, on: connection)
        } else {
            try await connection.sendingTogether { try await sendAnswer(response, to: method, on: connection) }
        }
    }

    /// Sends the answer to a method run on an entity query, then `? <query>`; an error while sending the
    /// body (a document that fails as it is read) is sent as a status line.
    private func sendAnswer(_ response: RESTResponse, to method: RESTMethod, on connection: TerminalConnection) async throws {
        do {
            if method == .OPTIONS, response.error == nil, let options = response.body {
                try await connection.send(json: options)
            } else {
                try await send(response, on: connection)
            }
        } catch let error as TerminalConnectionError {
            throw error
        } catch {
            try await connection.send(error: error)
        }
        try await sendLocation(connection)
    }

    /// Runs a method on an entity query as this connection's caller, with its custom headers.
    func execute(
        _ method: RESTMethod, on entityQuery: EntityQuery, body: ByteBuffer?, connection: TerminalConnection, unsafe: Bool = false,
        headers: HTTPFields? = nil
    ) async -> RESTResponse {
        let headers = headers ?? connection.customHeaders
        let caller = RESTCaller(connectionID: connection.id, clientIP: connection.clientIP, headers: headers, identity: connection.identity)
        var request = RESTRequest(method: method, query: entityQuery, headers: headers, body: body, caller: caller, unsafe: unsafe)
        // The answer's headers are shown only with WriteHeaders.
        request.wantsResponseHeaders = writeHeaders
        return await connection.api.execute(request)
    }

    func send(_ response: RESTResponse, on connection: TerminalConnection) async throws {
        try await connection.send(utf8Text: response.statusLineBytes)
        if writeHeaders { try await connection.send(json: response.headers.json) }
        if let document = response.document {
            // One message, sent in parts as the document is read.
            if binaryBodies {
                try await connection.send(binaryParts: document.makeBytes())
            } else {
                try await connection.send(textParts: WholeCharacters(document.makeBytes()))
            }
        } else if let body = response.bodyBuffer {
            // The body's bytes as they were printed: no `String` made of them on the way.
            if binaryBodies {
                try await connection.send(body)
            } else {
                try await connection.send(utf8Text: body)
            }
        }
    }

    func runOnTerminal(_ target: TerminalTarget, method: RESTMethod, body: ByteBuffer?, on connection: TerminalConnection) async throws {
        switch method {
        case .GET:
            guard body == nil else {
                throw SwitchboardError(
                    .badRequest, code: .invalidInput, "GET on terminal resource '\(target.descriptor.name)' takes no body")
            }
            try await connection.redirect(to: target)
        case .OPTIONS:
            try await connection.send(target.descriptor.options.prettyPrinted)
            try await sendLocation(connection)
        default:
            throw SwitchboardError(
                .methodNotAllowed, code: .methodNotAllowed,
                "Method '\(method)' is not available for terminal resource '\(target.descriptor.name)'; terminals support GET (to enter them) and OPTIONS"
            )
        }
    }

    // MARK: Confirmation

    struct PendingConfirmation {
        let method: RESTMethod
        let body: ByteBuffer?
    }

    /// A PATCH or DELETE on several entities waiting for `Y` or `N`.
    var pendingConfirmation: PendingConfirmation?

    func answer(_ text: String, to pending: PendingConfirmation, on connection: TerminalConnection) async throws {
        switch text.trimmingWhitespace() {
        case "Y", "y":
            pendingConfirmation = nil
            try await run(method: pending.method, body: pending.body, on: connection, confirmed: true)
        case "N", "n":
            pendingConfirmation = nil
            try await connection.send("Operation cancelled")
            try await sendLocation(connection)
        default:
            try await connection.send("Type 'Y' to continue, 'N' to cancel")
        }
    }

    // MARK: Paging

    /// NEXT, PREV, FIRST, LAST and ALL: move to another page of the current entity query (see
    /// ``EntityQuery/nextPage(size:)``), then GET it.
    func page(_ command: String, argument: String, on connection: TerminalConnection) async throws {
        do {
            guard case .entities(let current)? = try currentLocation(on: connection) else {
                throw SwitchboardError(
                    .badRequest, code: .shellError,
                    "\(command) pages through entity resources; navigate to one first, as in /\(Self.example(in: connection.api, for: connection.identity, entities: true))//limit=10"
                )
            }
            var size: Int?
            if !argument.isEmpty {
                guard let number = Int(argument), number > 0 else {
                    throw SwitchboardError(
                        .badRequest, code: .invalidInput,
                        "\(command) takes a page size, a whole number above 0, but got '\(SwitchboardError.excerpt(argument))'")
                }
                size = number
            }
            let page: EntityQuery
            switch command {
            case "NEXT", "PREV", "PREVIOUS":
                let word = command == "NEXT" ? "NEXT" : "PREV"
                guard size != nil || current.limit != nil else {
                    throw SwitchboardError(
                        .badRequest, code: .shellError, "\(word) needs a page size: type \(word) <n>, or navigate to a query with a limit")
                }
                let found = command == "NEXT" ? current.nextPage(size: size) : current.previousPage(size: size)
                guard let found else {
                    throw SwitchboardError(.badRequest, code: .shellError, command == "NEXT" ? "This is the last page" : "This is the first page")
                }
                page = found
            case "FIRST": page = current.firstPage(size: size ?? 1)
            case "LAST": page = current.lastPage(size: size ?? 1)
            default: page = current.allEntities
            }
            move(to: .entities(page))
        } catch let error as TerminalConnectionError {
            throw error
        } catch {
            try await connection.send(error: error)
            try await sendLocation(connection)
            return
        }
        try await run(method: .GET, body: nil, on: connection)
    }

    // MARK: OBSERVE

    /// Sends each entity of the current query as its own message, then every entity that appears or
    /// changes, until the given number of seconds pass or the client sends `#SHELL` or `#DISCONNECT`.
    func observe(_ argument: String, on connection: TerminalConnection) async throws {
        var deadline: ContinuousClock.Instant?
        let observed: EntityQuery
        do {
            if !argument.isEmpty {
                guard let seconds = Double(argument), seconds > 0, seconds.isFinite, seconds < 1e9 else {
                    throw SwitchboardError(
                        .badRequest, code: .invalidInput, "OBSERVE takes a number of seconds above 0, but got '\(SwitchboardError.excerpt(argument))'")
                }
                deadline = .now + .milliseconds(Int64(seconds * 1000))
            }
            guard case .entities(let found)? = try currentLocation(on: connection) else {
                throw SwitchboardError(.badRequest, code: .shellError, "OBSERVE watches entity resources; navigate to one first")
            }
            observed = found
        } catch let error as SwitchboardError {
            try await connection.send(error: error)
            try await sendLocation(connection)
            return
        }
        var rawHeaders = connection.customHeaders
        rawHeaders[.accept] = "application/json;raw=true"
        var seen: Set<String> = []
        var first = true
        while !Task.isCancelled {
            let response = await execute(.GET, on: observed, body: nil, connection: connection, headers: rawHeaders)
            if first {
                try await connection.send(
                    response.error == nil
                        ? "\(response.status): \(SwitchboardError.reasonPhrase(for: response.status)). Observing \(observed.canonical)\(deadline == nil ? "" : " for \(argument) s"); #SHELL stops"
                        : response.statusLine)
                first = false
            }
            guard response.error == nil, case .array(let rows)? = response.body else { break }
            for row in rows {
                let text = row.compact
                if seen.insert(text).inserted { try await connection.send(text) }
            }
            if let deadline, ContinuousClock.now >= deadline { break }
            let pause = Duration.milliseconds(500)
            if let deadline {
                try await Task.sleep(until: min(deadline, .now + pause))
            } else {
                try await Task.sleep(for: pause)
            }
        }
        try await sendLocation(connection)
    }

    // MARK: HEADERS

    /// `HEADERS` shows the connection's custom headers; `HEADER Name = value` sets one (`null` removes it).
    func header(_ argument: String, on connection: TerminalConnection) async throws {
        if let equals = argument.firstIndex(of: "=") {
            let name = argument[..<equals].trimmingWhitespace()
            let value = argument[argument.index(after: equals)...].trimmingWhitespace()
            do {
                try connection.setHeader(name, to: value.lowercased() == "null" ? nil : value)
            } catch {
                try await connection.send(error: error)
                try await sendLocation(connection)
                return
            }
        } else if !argument.isEmpty {
            try await connection.send(
                error: SwitchboardError(
                    .badRequest, code: .invalidInput, "Invalid header syntax. Should be: HEADER <name> = <value> (or null to remove it)"))
            try await sendLocation(connection)
            return
        }
        try await connection.send(json: ["Headers": connection.customHeaders.json])
        try await sendLocation(connection)
    }

    // MARK: VAR

    func variable(_ argument: String, on connection: TerminalConnection) async throws {
        if !argument.isEmpty {
            guard let equals = argument.firstIndex(of: "=") else {
                try await connection.send(
                    error: SwitchboardError(
                        .badRequest, code: .invalidInput, "Invalid property assignment syntax. Should be: VAR <property> = <value>"))
                try await sendLocation(connection)
                return
            }
            let name = argument[..<equals].trimmingWhitespace()
            let value = argument[argument.index(after: equals)...].trimmingWhitespace()
            do {
                try await connection.setProperties([(name, value)])
            } catch let error as SwitchboardError where error.code == .unknownProperty {
                try await connection.send(
                    error: SwitchboardError(
                        .notFound, code: .unknownProperty,
                        "Unknown shell property '\(name)'; the properties are \(try await propertyNames(connection)). To list them with their values, type VAR"
                    ))
                try await sendLocation(connection)
                return
            } catch let error as TerminalConnectionError {
                throw error
            } catch {
                try await connection.send(error: error)
                try await sendLocation(connection)
                return
            }
        }
        try await connection.send(json: try await connection.properties)
        try await sendLocation(connection)
    }

    private func propertyNames(_ connection: TerminalConnection) async throws -> String {
        guard case .object(let object) = try await connection.properties else { return "" }
        return object.members.map(\.key).joined(separator: ", ")
    }

    // MARK: HELP

    func help(api: SwitchboardAPI, identity: AccessIdentity) -> String {
        let entity = Self.example(in: api, for: identity, entities: true)
        var lines = [
            "Navigation",
            "  /<resource>/<conditions>/<meta>  go to a URI, e.g. /\(entity)//limit=10&offset=10",
            "  GO <uri>                   the same; GO alone prints the current query",
            "Methods on the current query (or an inline URI: GET /\(entity)//limit=1)",
            "  GET (or an empty line)     get the entities, or enter the terminal",
            "  POST <json>, or {...}      insert; [...] inserts several",
            "  PUT <json>                 insert if nothing matches, update if one entity does",
            "  PATCH <json>, DELETE       change or delete what matches (Y/N when several)",
            "  REPORT, HEAD               count, or check for, what matches",
            "  OPTIONS                    the resource's kind, methods and properties",
            "  SCHEMA                     the resource's properties and their types",
            "  OBSERVE [seconds]          stream the entities, and new ones, one per message (#SHELL stops)",
            "Paging (changes limit and offset, then GETs)",
            "  NEXT [n], PREV [n]         the next or previous page",
            "  FIRST [n], LAST [n], ALL   the first or last n entities, or all of them",
            "Shell",
            "  HEADERS                    show the request headers",
            "  HEADER <name> = <value>    set one (null removes it), e.g. HEADER Accept = application/json;raw=true",
            "  VAR                        show the Shell's properties",
            "  VAR <property> = <value>   set one, e.g. VAR AutoGet = true",
            "  HELP                       this text",
            "  EXIT, QUIT, CLOSE          close the connection",
            "Global commands (in every terminal)",
            "  #TERMINAL [json]           show or set the current terminal's properties",
            "  #INFO [json]               show the connection profile, or set CustomHeaders",
            "  #OPTIONS                   show the current terminal's options",
            "  #SHELL, #HOME              return to the Shell",
            "  #DISCONNECT                close the connection",
            "Resources",
        ]
        for resource in api.resources where api.allowsAnyMethod(on: resource, for: identity) {
            lines.append("  /\(resource.name)" + (resource.summary.map { " - \($0)" } ?? ""))
        }
        return lines.joined(separator: "\n")
    }
    public func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {}
}

extension HomeTerminal {
    /// The Shell as the home terminal: it opens at an entity query's URI through its `Query` property.
    public static var shell: HomeTerminal { HomeTerminal(locationProperty: "Query") { Shell() } }
}

/// Text from a sequence of bytes, each part ending at a whole UTF-8 character (invalid bytes become U+FFFD).
struct WholeCharacters<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
    let base: Base
    init(_ base: Base) { self.base = base }

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        var carry: [UInt8] = []

        mutating func next() async throws -> String? {
            while let chunk = try await base.next() {
                var bytes = carry
                bytes.append(contentsOf: chunk.readableBytesView)
                var end = bytes.count
                // Keep back a sequence the chunk does not complete (at most 3 bytes).
                var back = 0
                while back < 3, end - back - 1 >= 0, bytes[end - back - 1] & 0xC0 == 0x80 { back += 1 }
                if end - back - 1 >= 0 {
                    let lead = bytes[end - back - 1]
                    let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
                    if length > 1, back + 1 < length { end -= back + 1 }
                }
                carry = Array(bytes[end...])
                if end > 0 { return String(decoding: bytes[..<end], as: UTF8.self) }
            }
            guard !carry.isEmpty else { return nil }
            defer { carry = [] }
            return String(decoding: carry, as: UTF8.self)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator()) }
}
