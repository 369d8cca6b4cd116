import HTTPTypes

/// A terminal whose properties are checked as a whole after every change a client makes (URI conditions,
/// `#TERMINAL {json}`, the Shell's `VAR`): RESTable's validator. Every property in error is named with what
/// is wrong with it, in one `400`, and the change is undone.
///
/// ```swift
/// actor Booking: ValidatingTerminal {
///     @Property var guests = 1
///     @Property var nights = 1
///     func invalidProperties() -> [(property: String, problem: String)] {
///         var problems: [(property: String, problem: String)] = []
///         if !(1...8).contains(guests) { problems.append(("Guests", "must be from 1 to 8")) }
///         if nights < 1 { problems.append(("Nights", "must be 1 or more")) }
///         return problems
///     }
/// }
/// ```
/// The client reads `400: Bad request. Invalid properties of terminal 'Booking': Guests must be from 1 to 8;
/// Nights must be 1 or more`; code that catches the error reads the map in
/// ``SwitchboardError/invalidProperties``, and a JSON error body carries it as `InvalidProperties`.
///
/// A terminal that also reacts to changes implements ``PropertyCheckingTerminal/propertiesDidChange(_:on:)``
/// itself and calls ``checkProperties()`` first.
public protocol ValidatingTerminal: PropertyCheckingTerminal {
    /// What is wrong with the properties as they are now, property by property; empty when nothing is.
    func invalidProperties() -> [(property: String, problem: String)]
}

extension ValidatingTerminal {
    /// Throws ``InvalidProperties`` when ``invalidProperties()`` finds anything.
    public func checkProperties() throws(InvalidProperties) {
        let problems = invalidProperties()
        if !problems.isEmpty { throw InvalidProperties(terminal: Self.resourceName, problems: problems) }
    }

    public func propertiesDidChange(_ changes: PropertyChanges, on connection: TerminalConnection) async throws {
        try checkProperties()
    }
}

/// Properties of a terminal that are wrong, each with what is wrong with it; reported as one `400`
/// (``SwitchboardError/invalidProperties``, and `InvalidProperties` in the JSON error body).
public struct InvalidProperties: Error, Sendable {
    /// The terminal's resource name.
    public var terminal: String
    /// Each property in error with what is wrong with it, in order.
    public var problems: [(property: String, problem: String)]

    public init(terminal: String, problems: [(property: String, problem: String)]) {
        self.terminal = terminal
        self.problems = problems
    }

    /// The error clients get.
    public var switchboardError: SwitchboardError {
        var error = SwitchboardError(
            .badRequest, code: .invalidPropertyValue,
            "Invalid properties of terminal '\(terminal)': " + problems.map { "\($0.property) \($0.problem)" }.joined(separator: "; "))
        error.invalidProperties = JSONObject(problems.map { ($0.property, .string($0.problem)) })
        return error
    }
}
