public import Switchboard

/// Counts the entities a URI selects, using the same public API as the Shell: resolve once, run a
/// `REPORT` on the resolved query with the caller's rights, and take a turn under the command pace.
///
/// ```
/// /superhero/year>1950        →  3 entities in SwitchboardSamples.Superhero/Year>1950
/// /echo                       →  400: Bad request. '/echo' names a terminal, not entities
/// ```
public actor QueryCounter: TextInputTerminal {
    public static var resourceDescription: String { "Counts the entities each line's URI selects" }

    public init() {}

    public func receive(text: String, from connection: TerminalConnection) async throws {
        try await connection.takeCommandTurn()
        guard case .entities(let query) = try connection.api.resolve(text, for: connection.identity) else {
            throw SwitchboardError(
                .badRequest, code: .invalidInput, "'\(SwitchboardError.excerpt(text))' names a terminal, not entities")
        }
        let response = await connection.api.execute(RESTRequest(method: .REPORT, query: query, caller: connection.caller))
        guard response.error == nil, let count = response.entityCount else {
            try await connection.send(response.statusLine)
            return
        }
        try await connection.send("\(count) entities in \(query.canonical.dropFirst())")
    }

    public func open(_ connection: TerminalConnection) async throws {}
    public func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {}
}
