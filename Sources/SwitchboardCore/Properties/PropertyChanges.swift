/// The properties a client just set on a terminal, as ``PropertyCheckingTerminal/propertiesDidChange(_:on:)``
/// gets them.
///
/// Ask about a property by its projected value, so that a renamed property is a compile error rather than a
/// name that no longer matches:
/// ```swift
/// func propertiesDidChange(_ changes: PropertyChanges, on connection: TerminalConnection) async throws {
///     if changes.contains($limit), limit < 1 {
///         throw SwitchboardError(.badRequest, code: .invalidPropertyValue, "Limit must be at least 1")
///     }
/// }
/// ```
public struct PropertyChanges: Sendable {
    /// The client-facing names of the properties set, in the order they were written.
    public let names: [String]
    let boxes: [ObjectIdentifier]

    init(_ changed: [(name: String, box: any PropertyBox)]) {
        self.names = changed.map(\.name)
        self.boxes = changed.map { ObjectIdentifier($0.box) }
    }

    /// Whether the change set this property (pass its projected value: `$limit`).
    public func contains<Value>(_ property: Property<Value>) -> Bool { boxes.contains(ObjectIdentifier(property)) }

    /// Whether the change set the property with this client-facing name (case-insensitive).
    public func contains(_ name: String) -> Bool {
        let lowered = name.lowercased()
        return names.contains { $0.lowercased() == lowered }
    }

    /// Whether nothing was set.
    public var isEmpty: Bool { names.isEmpty }
}
