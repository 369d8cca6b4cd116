import HTTPTypes

/// A description of one terminal property, as `#OPTIONS` and the resource listing show it.
public struct PropertyDescriptor: Sendable {
    /// The client-facing name (`Prefix`).
    public let name: String
    /// The type's short name (`String`, `Int?`, `line | json`).
    public let typeName: String
    /// Whether clients may only read it.
    public let isReadOnly: Bool
    /// What it means, if the declaration said.
    public let summary: String?
    /// Converts values without touching any live terminal.
    let prototype: any PropertyBox

    /// The descriptor as JSON.
    public var json: JSON {
        var object: JSONObject = ["Name": .string(name), "Type": .string(typeName), "ReadOnly": .bool(isReadOnly)]
        if let summary { object["Description"] = .string(summary) }
        return .object(object)
    }
}

/// A value to assign to a property, in one of the two forms clients write.
enum PropertyInput: Sendable {
    case literal(PropertyLiteral)
    case json(JSON)

    var written: String {
        switch self {
        case .literal(let literal): literal.written
        case .json(let json): json.compact
        }
    }
}

/// A value checked and converted for one property, ready to store.
struct PropertyAssignment: Sendable {
    /// The property's declared name.
    let name: String
    /// The converted value, of the property's type.
    let value: any Sendable
}

/// The properties of one terminal type, in declaration order.
struct PropertySchema: Sendable {
    let resourceName: String
    let descriptors: [PropertyDescriptor]
    /// Whether the terminal takes properties it does not declare (``DynamicProperties``).
    let acceptsDynamic: Bool

    /// Finds the properties declared with ``Property`` on an instance, walking superclasses.
    static func boxes(of instance: Any) -> [(name: String, box: any PropertyBox)] {
        var mirrors: [Mirror] = []
        var mirror: Mirror? = Mirror(reflecting: instance)
        while let current = mirror {
            mirrors.insert(current, at: 0)
            mirror = current.superclassMirror
        }
        var result: [(String, any PropertyBox)] = []
        for mirror in mirrors {
            for child in mirror.children {
                guard let box = child.value as? any PropertyBox else { continue }
                let name = box.declaredName ?? Self.clientName(forLabel: child.label ?? "")
                result.append((name, box))
            }
        }
        return result
    }

    /// `_messagesReceived` → `MessagesReceived`.
    static func clientName(forLabel label: String) -> String {
        let trimmed = label.hasPrefix("_") ? String(label.dropFirst()) : label
        guard let first = trimmed.first else { return trimmed }
        return first.uppercased() + trimmed.dropFirst()
    }

    /// The ``DynamicProperties`` an instance declares, if any.
    static func dynamicProperties(of instance: Any) -> DynamicProperties? {
        var mirror: Mirror? = Mirror(reflecting: instance)
        while let current = mirror {
            if let found = current.children.lazy.compactMap({ $0.value as? DynamicProperties }).first { return found }
            mirror = current.superclassMirror
        }
        return nil
    }

    init(resourceName: String, instance: Any) {
        self.resourceName = resourceName
        self.acceptsDynamic = Self.dynamicProperties(of: instance) != nil
        self.descriptors = Self.boxes(of: instance).map {
            PropertyDescriptor(
                name: $0.name, typeName: $0.box.typeName, isReadOnly: $0.box.isReadOnly, summary: $0.box.summary,
                prototype: $0.box)
        }
    }

    func descriptor(named name: String) -> PropertyDescriptor? {
        let lowered = name.lowercased()
        return descriptors.first { $0.name.lowercased() == lowered }
    }

    var namesList: String {
        descriptors.isEmpty ? "it has no properties" : "its properties are " + descriptors.map(\.name).joined(separator: ", ")
    }

    /// Checks one assignment and converts its value; throws an error that names the property, the value
    /// and what was expected.
    func convert(name: String, input: PropertyInput) throws(SwitchboardError) -> PropertyAssignment {
        guard let descriptor = descriptor(named: name) else {
            if acceptsDynamic, !name.isEmpty, name.count <= 100, !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                switch input {
                case .literal(let literal): return PropertyAssignment(name: name, value: DynamicEntryBox.json(literal))
                case .json(let json): return PropertyAssignment(name: name, value: json)
                }
            }
            throw SwitchboardError(
                .notFound, code: .unknownProperty,
                "Unknown property '\(name)' in terminal '\(resourceName)'; \(namesList)")
        }
        if descriptor.isReadOnly {
            throw SwitchboardError(
                .badRequest, code: .readOnlyProperty,
                "Property '\(descriptor.name)' of terminal '\(resourceName)' is read-only")
        }
        let value: (any Sendable)?
        switch input {
        case .literal(let literal): value = descriptor.prototype.converted(from: literal)
        case .json(let json): value = descriptor.prototype.converted(from: json)
        }
        guard let value else {
            throw SwitchboardError(
                .badRequest, code: .invalidPropertyValue,
                "Invalid value \(input.written) for property '\(descriptor.name)' of terminal '\(resourceName)': expected \(descriptor.prototype.expectation)"
            )
        }
        return PropertyAssignment(name: descriptor.name, value: value)
    }
}

/// The live properties of one terminal instance.
struct PropertySet: Sendable {
    let schema: PropertySchema
    let boxes: [(name: String, box: any PropertyBox)]
    /// The entries of properties the terminal does not declare, if it takes them.
    let dynamic: DynamicProperties?

    init(schema: PropertySchema, instance: Any) {
        self.schema = schema
        var boxes = PropertySchema.boxes(of: instance)
        // The schema's own strings where the names are equal (they are, for instances of one type): a name
        // longer than 15 bytes is not stored inline, and a terminal would otherwise keep copies of its names
        // for its life.
        for index in boxes.indices where index < schema.descriptors.count && boxes[index].name == schema.descriptors[index].name {
            boxes[index].name = schema.descriptors[index].name
        }
        self.boxes = boxes
        self.dynamic = PropertySchema.dynamicProperties(of: instance)
    }

    /// All properties as a JSON object, in declaration order, then the dynamic ones.
    var json: JSON {
        .object(JSONObject(boxes.map { ($0.name, $0.box.jsonValue) } + (dynamic?.wrappedValue.members ?? [])))
    }

    /// A declared property, or else an entry of the dynamic ones (new or not).
    func box(named name: String) -> (any PropertyBox)? {
        let lowered = name.lowercased()
        return boxes.first { $0.name.lowercased() == lowered }?.box ?? dynamic?.entry(named: name)
    }

    /// A snapshot of every value, to restore later with ``restore(_:)``.
    func snapshot() -> [(name: String, value: JSON)] {
        boxes.map { ($0.name, $0.box.jsonValue) } + (dynamic?.wrappedValue.members.map { ($0.key, $0.value) } ?? [])
    }

    func restore(_ snapshot: [(name: String, value: JSON)]) {
        dynamic?.wrappedValue = JSONObject()
        for (name, value) in snapshot {
            guard let box = box(named: name), let converted = box.converted(from: value) else { continue }
            box.store(converted)
        }
    }

    /// Converts every assignment before any is stored: all or none.
    func convert(_ assignments: [(name: String, input: PropertyInput)]) throws(SwitchboardError) -> [PropertyAssignment] {
        var converted: [PropertyAssignment] = []
        for (name, input) in assignments {
            converted.append(try schema.convert(name: name, input: input))
        }
        return converted
    }

    /// Stores values converted by this schema (``PropertySchema/convert(name:input:)``) into a terminal that is
    /// not attached yet.
    /// - Returns: The properties stored, in order.
    @discardableResult
    func store(_ assignments: [PropertyAssignment]) -> [(name: String, box: any PropertyBox)] {
        var stored: [(name: String, box: any PropertyBox)] = []
        for assignment in assignments {
            guard let box = box(named: assignment.name) else { continue }
            box.store(assignment.value)
            stored.append((assignment.name, box))
        }
        return stored
    }

    /// Stores a client's values and lets the terminal check them, all on the terminal's actor: nothing the
    /// terminal runs sees the values between the store and the check unless the check suspends. A refused
    /// change puts back only the properties it set, and only where they still hold the value it wrote.
    /// - Returns: The declared names of the properties set.
    @discardableResult
    func apply(
        _ assignments: [PropertyAssignment], connection: TerminalConnection, on terminal: isolated any TerminalResource
    ) async throws -> [String] {
        if let dynamic {
            let existing = dynamic.wrappedValue.members.map { $0.key.lowercased() }
            let declared = Set(boxes.map { $0.name.lowercased() })
            let added = Set(assignments.map { $0.name.lowercased() }).subtracting(declared).subtracting(existing)
            if existing.count + added.count > DynamicProperties.limit {
                throw SwitchboardError(
                    .badRequest, code: .invalidPropertyValue,
                    "Terminal '\(schema.resourceName)' holds at most \(DynamicProperties.limit) properties it does not declare; set one to null to remove it")
            }
        }
        let previous = assignments.compactMap { assignment in box(named: assignment.name).map { ($0, $0.jsonValue) } }
        let stored = store(assignments)
        let written = stored.map { $0.box.jsonValue }
        guard let checking = terminal as? any PropertyCheckingTerminal, !stored.isEmpty else { return stored.map(\.name) }
        do {
            try await checking.propertiesDidChange(PropertyChanges(stored), on: connection)
        } catch {
            for (index, (box, value)) in previous.enumerated() where index < written.count && box.jsonValue == written[index] {
                if let converted = box.converted(from: value) { box.store(converted) }
            }
            throw error
        }
        return stored.map(\.name)
    }
}
