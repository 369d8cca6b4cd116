import HTTPTypes

/// A terminal URI checked against the terminal's properties: the values it assigns, converted to the
/// properties' types, ready to apply to a new instance.
public struct TerminalTarget: Sendable {
    /// The terminal type.
    public let descriptor: TerminalDescriptor
    /// The canonical URI: full resource name, declared property names, normalised values.
    public let canonical: String
    /// The converted values, in the order the URI wrote them.
    let values: [PropertyAssignment]

    /// Checks every condition of a parsed URI as a property assignment and converts its value.
    init(_ uri: ResourceURI, written: String, descriptor: TerminalDescriptor) throws(SwitchboardError) {
        if !uri.metaConditions.isEmpty {
            throw SwitchboardError(
                .badRequest, code: .invalidMetaCondition,
                "Terminal resource '\(descriptor.name)' takes no meta-conditions; remove the third URI segment")
        }
        var values: [PropertyAssignment] = []
        var canonicalConditions: [URICondition] = []
        for condition in uri.conditions {
            guard condition.op == .equal else {
                throw SwitchboardError(
                    .badRequest, code: .invalidConditionOperator,
                    "Invalid operator '\(condition.op.rawValue)' in condition '\(condition.key)\(condition.op.rawValue)\(condition.value)' to terminal resource '\(descriptor.name)'; only '=' is valid in terminal conditions"
                )
            }
            let assignment = try descriptor.schema.convert(name: condition.key, input: .literal(PropertyLiteral(condition.value)))
            if values.contains(where: { $0.name == assignment.name }) {
                throw SwitchboardError(
                    .badRequest, code: .invalidConditionSyntax,
                    "Property '\(assignment.name)' is assigned more than once in '\(written)'")
            }
            values.append(assignment)
            canonicalConditions.append(URICondition(key: assignment.name, op: .equal, value: Self.canonicalLiteral(assignment.value)))
        }
        self.init(descriptor: descriptor, values: values, canonical: ResourceURI(resourceName: descriptor.name, conditions: canonicalConditions).description)
    }

    init(descriptor: TerminalDescriptor, values: [PropertyAssignment], canonical: String) {
        self.descriptor = descriptor
        self.values = values
        self.canonical = canonical
    }

    /// The literal that converts back to `value`: strings are quoted only where they would read as
    /// something else (`null`, or text in quotes).
    static func canonicalLiteral(_ value: any Sendable) -> String {
        guard let value = value as? any PropertyValue else { return "\(value)" }
        switch value.json {
        case .null: return "null"
        case .string(let text):
            if case .text(let read, false) = PropertyLiteral(text), read == text { return text }
            return "'\(text)'"
        case .bool(let flag): return flag ? "true" : "false"
        case .int(let number): return String(number)
        case let other: return other.compact
        }
    }
}
