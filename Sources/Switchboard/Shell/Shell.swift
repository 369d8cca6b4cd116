/// The built-in command shell: navigate the API's resources by URI and enter terminals.
///
/// Type a URI relative to the API root (`/echo/prefix=>`) or `GO <uri>` to navigate; `GET` (or an empty
/// line) enters the terminal at the current location. `VAR` shows and sets the Shell's properties, `HELP`
/// lists the commands, `EXIT` closes the connection. After each command the Shell sends `? <query>`.
///
/// When the connection comes back to the Shell (`#SHELL`, or a terminal redirecting), it gets back the
/// properties it had on that connection, including its location.
public actor Shell: TerminalResource {
    public static var resourceName: String { "Switchboard.Shell" }
    public static var resourceDescription: String? {
        "The Switchboard shell: navigate the API's resources by URI and enter terminals"
    }
    public static var restoresPropertiesOnReturn: Bool { true }

    static let banner = "### Entering the Switchboard shell. Type HELP for commands, or a URI such as /echo to navigate. ###"
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

    /// Creates a Shell; Switchboard makes one per connection that opens it.
    public init() {}

    public func open(_ connection: TerminalConnection) async throws {
        if connection.isReturning || query.isEmpty {
            try await connection.send(Self.banner)
            try await sendLocation(connection)
        } else {
            await navigate(to: query, on: connection, echo: true, setQuery: false)
        }
    }

    public func propertiesDidChange(_ names: [String], on connection: TerminalConnection) async throws {
        if names.contains("AutoGet") && names.contains("AutoOptions") && autoGet && autoOptions {
            throw SwitchboardError(
                .badRequest, code: .invalidPropertyValue, "AutoGet and AutoOptions are mutually exclusive; set at most one of them to true")
        }
        if names.contains("AutoGet") && autoGet {
            autoOptions = false
        } else if names.contains("AutoOptions") && autoOptions {
            autoGet = false
        }
        if names.contains("Query") && !query.isEmpty {
            query = try validated(query, api: connection.api)
        }
    }

    public func receive(text: String, from connection: TerminalConnection) async throws {
        let line = text.trimmingWhitespace()
        if line.isEmpty {
            try await run(method: "GET", argument: "", on: connection)
            return
        }
        if line.hasPrefix("/") {
            await navigate(to: line, on: connection, echo: true)
            return
        }
        if line.hasPrefix("{") || line.hasPrefix("[") {
            try await run(method: "POST", argument: line, on: connection)
            return
        }
        let word = String(line.prefix { !$0.isWhitespace })
        var argument = String(line.dropFirst(word.count)).trimmingWhitespace()
        let command = word.uppercased()
        switch command {
        case "GO", "NAVIGATE", "?":
            if argument.isEmpty {
                try await connection.send(query.isEmpty ? "< empty >" : query)
            } else {
                await navigate(to: argument, on: connection, echo: true)
            }
        case "GET", "POST", "PUT", "PATCH", "DELETE", "REPORT", "HEAD", "OPTIONS":
            if argument.hasPrefix("/") {
                let path = String(argument.prefix { !$0.isWhitespace })
                argument = String(argument.dropFirst(path.count)).trimmingWhitespace()
                guard await navigate(to: path, on: connection, echo: false, automatic: false) else {
                    try await sendLocation(connection)
                    return
                }
            }
            try await run(method: command, argument: argument, on: connection)
        case "VAR":
            try await variable(argument, on: connection)
        case "HELP":
            try await connection.send(help(api: connection.api))
            try await sendLocation(connection)
        case "EXIT", "QUIT", "CLOSE", "DISCONNECT":
            try await connection.send(Self.closingBanner)
            await connection.close(.normalClosure, reason: "")
        default:
            try await connection.send(
                error: SwitchboardError(
                    .badRequest, code: .unknownCommand, "Unknown command '\(Self.excerpt(word))'. Type HELP for the list of commands"))
            try await sendLocation(connection)
        }
    }

    // MARK: Navigation

    func sendLocation(_ connection: TerminalConnection) async throws {
        try await connection.send("? " + (query.isEmpty ? "<no query>" : query))
    }

    /// Checks a query and returns the form to store: canonical if ``reformatQueries`` is on.
    func validated(_ uri: String, api: SwitchboardAPI) throws(SwitchboardError) -> String {
        guard uri.hasPrefix("/") else {
            throw SwitchboardError(
                .badRequest, code: .shellError, "Shell queries must begin with '/', as in /\(uri)")
        }
        let canonical = try api.validateTerminalURI(uri)
        return reformatQueries ? canonical : uri
    }

    /// Moves to a new location. On failure the location stays where it was and the client gets the error.
    /// - Returns: Whether the navigation succeeded.
    @discardableResult
    func navigate(
        to uri: String, on connection: TerminalConnection, echo: Bool, automatic: Bool = true, setQuery: Bool = true
    ) async -> Bool {
        do {
            query = try validated(uri, api: connection.api)
        } catch {
            try? await connection.send(error: error)
            if echo { try? await sendLocation(connection) }
            return false
        }
        do {
            if automatic && autoGet {
                try await run(method: "GET", argument: "", on: connection)
            } else if automatic && autoOptions {
                try await run(method: "OPTIONS", argument: "", on: connection)
            } else if echo {
                try await sendLocation(connection)
            }
        } catch {
            try? await connection.send(error: error)
        }
        return true
    }

    /// Runs a method on the current location.
    func run(method: String, argument: String, on connection: TerminalConnection) async throws {
        do {
            guard !query.isEmpty else {
                throw SwitchboardError(
                    .badRequest, code: .shellError, "There is no query to run \(method) on; navigate first, as in /echo")
            }
            let target = try connection.api.terminalTarget(forURI: query)
            switch method {
            case "GET":
                guard argument.isEmpty else {
                    throw SwitchboardError(
                        .badRequest, code: .invalidInput, "GET on terminal resource '\(target.descriptor.name)' takes no body")
                }
                try await connection.redirect(to: query)
                return
            case "OPTIONS":
                try await connection.send(target.descriptor.options.prettyPrinted)
            default:
                throw SwitchboardError(
                    .methodNotAllowed, code: .methodNotAllowed,
                    "Method '\(method)' is not available for terminal resource '\(target.descriptor.name)'; terminals support GET (to enter them) and OPTIONS"
                )
            }
        } catch let error as TerminalConnectionError {
            throw error
        } catch {
            try await connection.send(error: error)
        }
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

    /// A client's word as it is quoted in a reply: control characters escaped, at most 40 characters.
    static func excerpt(_ word: String) -> String {
        var result = ""
        for (index, scalar) in word.unicodeScalars.enumerated() {
            if index == 40 { return result + "…" }
            result += scalar.properties.generalCategory == .control ? "\\u{\(String(scalar.value, radix: 16))}" : String(scalar)
        }
        return result
    }

    // MARK: HELP

    func help(api: SwitchboardAPI) -> String {
        var lines = [
            "Navigation",
            "  /<resource>/<conditions>   go to a URI, e.g. /echo/prefix=%3E",
            "  GO <uri>                   the same; GO alone prints the current query",
            "Methods on the current query (or an inline URI: GET /echo)",
            "  GET (or an empty line)     enter the terminal",
            "  OPTIONS                    show the resource's kind, methods and properties",
            "Shell",
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
        for terminal in api.terminals {
            lines.append("  /\(terminal.name)" + (terminal.summary.map { " - \($0)" } ?? ""))
        }
        return lines.joined(separator: "\n")
    }
}
