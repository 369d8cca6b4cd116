/// A registered terminal type: its name, description, properties and how to make one.
public struct TerminalDescriptor: Sendable {
    /// The full resource name (`Switchboard.Shell`).
    public let name: String
    /// What the terminal is for.
    public let summary: String?
    /// The kinds of input it takes (from its conformance to ``TextInputTerminal`` and ``BinaryInputTerminal``).
    public let supportedInput: TerminalInputKinds
    /// Its properties in declaration order.
    public var properties: [PropertyDescriptor] { schema.descriptors }

    let schema: PropertySchema
    let restoresProperties: Bool
    /// Whether the console may show the content of this terminal's messages (see ``TerminalResource/messagesArePrivate``).
    let messagesArePrivate: Bool
    let make: @Sendable () -> any TerminalResource

    init<T: TerminalResource>(_ type: T.Type, make: @escaping @Sendable () -> T) {
        self.name = T.resourceName
        self.summary = T.resourceDescription.isEmpty ? nil : T.resourceDescription
        self.supportedInput = T.supportedInput
        self.restoresProperties = T.restoresPropertiesOnReturn
        self.messagesArePrivate = T.messagesArePrivate
        self.schema = PropertySchema(resourceName: T.resourceName, instance: make())
        self.make = make
    }

    /// What `OPTIONS` and `#OPTIONS` show for the resource.
    public var options: JSON {
        var object: JSONObject = [
            "Resource": .string(name),
            "ResourceKind": "TerminalResource",
            "Methods": ["GET"],
        ]
        if let summary { object["Description"] = .string(summary) }
        object["SupportsTextInput"] = .bool(supportedInput.contains(.text))
        object["SupportsBinaryInput"] = .bool(supportedInput.contains(.binary))
        object["Properties"] = .array(properties.map(\.json))
        if schema.acceptsDynamic { object["TakesAnyProperty"] = true }
        return .object(object)
    }
}
