#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTPTypes

/// The type of one entity property, as far as the query language needs to know it.
public indirect enum EntityFieldType: Sendable, Equatable {
    case bool
    case int
    case double
    case string
    /// A date, written as ISO 8601 text and compared chronologically.
    case date
    /// A nested object with its own properties, reachable with dots (`Address.City`).
    case object(EntitySchema)
    /// An array; conditions cannot compare it, but it is shown, selected and searched.
    case array(EntityFieldType)
    /// Any JSON value; conditions compare it as it comes.
    case json

    /// The name `OPTIONS` shows.
    public var name: String {
        switch self {
        case .bool: "Bool"
        case .int: "Int"
        case .double: "Double"
        case .string: "String"
        case .date: "Date"
        case .object: "Object"
        case .array(let element): "[\(element.name)]"
        case .json: "JSON"
        }
    }

    /// Words for the values a condition on this type accepts.
    var expectation: String {
        switch self {
        case .bool: Bool.expectation
        case .int: Int.expectation
        case .double: Double.expectation
        case .string, .json: String.expectation
        case .date: Date.expectation
        case .object: "nothing: an object cannot be compared; name one of its properties with a dot"
        case .array: "nothing: an array cannot be compared"
        }
    }
}

/// One property of an entity type.
public struct EntityField: Sendable, Equatable {
    /// The name clients see and write (`HasSecretIdentity`): the coding key with its first letter upper-cased.
    public let name: String
    /// The coding key in the Swift type (`hasSecretIdentity`).
    public let codingKey: String
    /// Its type.
    public let type: EntityFieldType
    /// Whether it may be `null`.
    public let isOptional: Bool
}

/// The properties of an entity type, learned from its `Decodable` conformance.
///
/// Switchboard decodes the type once with a recording decoder: every key the type asks for becomes a
/// field, with the type it asked for. Types that are `CaseIterable` (enums) are recorded as the JSON kind of
/// their first case.
public struct EntitySchema: Sendable, Equatable {
    /// The fields in declaration order.
    public let fields: [EntityField]

    /// Learns the schema of a decodable type.
    /// - Throws: An error naming the type when it cannot be probed (a property type that validates its input
    ///   and is not `CaseIterable`).
    public init<T: Decodable>(of type: T.Type) throws {
        let recorder = SchemaRecorder()
        _ = try T(from: SchemaProbe(recorder: recorder))
        guard case .object(let schema) = recorder.result() else {
            throw SwitchboardError(
                .internalServerError, code: .internalError,
                "Entity type \(T.self) must decode from a keyed container (a struct or class with properties)")
        }
        self = schema
    }

    init(fields: [EntityField]) { self.fields = fields }

    /// Finds a field by its client name or coding key, case-insensitively.
    public func field(named name: String) -> EntityField? {
        let lowered = name.lowercased()
        return fields.first { $0.name.lowercased() == lowered }
            ?? fields.first { $0.codingKey.lowercased() == lowered }
    }

    /// Resolves a dotted path (`address.city`) to its fields, or says what is wrong.
    func resolve(_ path: String, resource: String) throws(SwitchboardError) -> [EntityField] {
        var schema = self
        var result: [EntityField] = []
        let parts = path.split(separator: ".", omittingEmptySubsequences: false)
        for (index, part) in parts.enumerated() {
            guard let field = schema.field(named: String(part)) else {
                let prefix = result.map(\.name).joined(separator: ".")
                let names = schema.fields.map(\.name).joined(separator: ", ")
                throw SwitchboardError(
                    .notFound, code: .unknownProperty,
                    "Unknown property '\(part)'\(prefix.isEmpty ? "" : " in '\(prefix)'") of resource '\(resource)'; the properties are \(names)"
                )
            }
            result.append(field)
            if index < parts.count - 1 {
                guard case .object(let nested) = field.type else {
                    throw SwitchboardError(
                        .badRequest, code: .unknownProperty,
                        "'\(result.map(\.name).joined(separator: "."))' of resource '\(resource)' is \(field.type.name), not an object; it has no property '\(parts[index + 1])'"
                    )
                }
                schema = nested
            }
        }
        return result
    }

    /// The schema as JSON, for `OPTIONS`: name → type name (with `?` when optional), nested objects inline.
    var json: JSON {
        .object(
            JSONObject(
                fields.map { field in
                    if case .object(let nested) = field.type { return (field.name, nested.json) }
                    return (field.name, .string(field.type.name + (field.isOptional ? "?" : "")))
                }))
    }
}

// MARK: - The recording decoder

/// Collects what a type asks for while it decodes from a ``SchemaProbe``.
final class SchemaRecorder {
    enum Shape {
        case unknown
        case primitive(EntityFieldType)
        case keyed(SchemaRecorderKeyed)
        case unkeyed(SchemaRecorder)
    }
    var shape: Shape = .unknown

    func result() -> EntityFieldType {
        switch shape {
        case .unknown: .json
        case .primitive(let type): type
        case .keyed(let keyed): .object(EntitySchema(fields: keyed.fields))
        case .unkeyed(let element): .array(element.result())
        }
    }
}

final class SchemaRecorderKeyed {
    var fields: [EntityField] = []
    /// Keys the type asked `decodeNil` about: the standard `decodeIfPresent` for `Double`, `String` and the
    /// other primitives does that before it decodes, so these keys are optional.
    var nilChecked: Set<String> = []

    func record(_ key: String, _ type: EntityFieldType, optional: Bool) {
        guard !fields.contains(where: { $0.codingKey == key }) else { return }
        fields.append(
            EntityField(name: Self.clientName(key), codingKey: key, type: type, isOptional: optional || nilChecked.contains(key)))
    }

    /// `hasSecretIdentity` → `HasSecretIdentity`.
    static func clientName(_ key: String) -> String {
        guard let first = key.first else { return key }
        return first.uppercased() + key.dropFirst()
    }
}

struct SchemaProbe: Decoder {
    let recorder: SchemaRecorder
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        let keyed: SchemaRecorderKeyed
        if case .keyed(let existing) = recorder.shape {
            keyed = existing
        } else {
            keyed = SchemaRecorderKeyed()
            recorder.shape = .keyed(keyed)
        }
        return KeyedDecodingContainer(KeyedProbe<Key>(keyed: keyed, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let element = SchemaRecorder()
        recorder.shape = .unkeyed(element)
        return UnkeyedProbe(element: element, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleValueProbe(recorder: recorder, codingPath: codingPath)
    }

    /// A stand-in value of `T` and the field type it stands for.
    static func probe<T: Decodable>(_ type: T.Type, codingPath: [any CodingKey]) throws -> (T, EntityFieldType) {
        if let (value, fieldType) = primitive(type) { return (value, fieldType) }
        if let caseType = type as? any CaseIterable.Type, let first = firstCase(of: caseType) as? T {
            return (first, kind(of: first))
        }
        let recorder = SchemaRecorder()
        let value = try T(from: SchemaProbe(recorder: recorder, codingPath: codingPath))
        return (value, recorder.result())
    }

    static func primitive<T>(_ type: T.Type) -> (T, EntityFieldType)? {
        let value: (Any, EntityFieldType)? =
            switch type {
            case is Bool.Type: (false, .bool)
            case is String.Type: ("", .string)
            case is Int.Type: (0, .int)
            case is Int64.Type: (Int64(0), .int)
            case is Int32.Type: (Int32(0), .int)
            case is Int16.Type: (Int16(0), .int)
            case is Int8.Type: (Int8(0), .int)
            case is UInt.Type: (UInt(0), .int)
            case is UInt64.Type: (UInt64(0), .int)
            case is UInt32.Type: (UInt32(0), .int)
            case is UInt16.Type: (UInt16(0), .int)
            case is UInt8.Type: (UInt8(0), .int)
            case is Double.Type: (0.0, .double)
            case is Float.Type: (Float(0), .double)
            case is Date.Type: (Date(timeIntervalSince1970: 0), .date)
            case is UUID.Type: (UUID(), .string)
            case is URL.Type: (URL(string: "http://localhost")!, .string)
            case is JSON.Type: (JSON.null, .json)
            default: nil
            }
        guard let value, let typed = value.0 as? T else { return nil }
        return (typed, value.1)
    }

    static func firstCase<C: CaseIterable>(of type: C.Type) -> Any? { type.allCases.first }

    /// The JSON kind a value encodes to.
    static func kind(of value: Any) -> EntityFieldType {
        guard let encodable = value as? any Encodable,
            let data = try? JSONEncoder().encode(Wrapper(value: encodable)),
            let json = try? JSON(parsing: String(decoding: data, as: UTF8.self)),
            case .object(let object) = json, let inner = object["v"]
        else { return .json }
        switch inner {
        case .bool: return .bool
        case .int: return .int
        case .double: return .double
        case .string: return .string
        default: return .json
        }
    }

    private struct Wrapper: Encodable {
        let value: any Encodable
        enum Keys: String, CodingKey { case v }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(value, forKey: .v)
        }
    }
}

struct KeyedProbe<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let keyed: SchemaRecorderKeyed
    var codingPath: [any CodingKey]
    var allKeys: [Key] { [] }

    func contains(_ key: Key) -> Bool { true }

    func decodeNil(forKey key: Key) throws -> Bool {
        keyed.nilChecked.insert(key.stringValue)
        return false
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let (value, fieldType) = try SchemaProbe.probe(type, codingPath: codingPath + [key])
        keyed.record(key.stringValue, fieldType, optional: false)
        return value
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        let fieldType = (try? SchemaProbe.probe(type, codingPath: codingPath + [key]))?.1 ?? .json
        keyed.record(key.stringValue, fieldType, optional: true)
        return nil
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        let nested = SchemaRecorderKeyed()
        defer { keyed.record(key.stringValue, .object(EntitySchema(fields: nested.fields)), optional: false) }
        return KeyedDecodingContainer(KeyedProbe<NestedKey>(keyed: nested, codingPath: codingPath + [key]))
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        keyed.record(key.stringValue, .array(.json), optional: false)
        return UnkeyedProbe(element: SchemaRecorder(), codingPath: codingPath + [key])
    }

    func superDecoder() throws -> any Decoder { SchemaProbe(recorder: SchemaRecorder(), codingPath: codingPath) }
    func superDecoder(forKey key: Key) throws -> any Decoder {
        SchemaProbe(recorder: SchemaRecorder(), codingPath: codingPath + [key])
    }
}

/// Reports one element, then the end, so that an array's element type is probed once.
struct UnkeyedProbe: UnkeyedDecodingContainer {
    let element: SchemaRecorder
    var codingPath: [any CodingKey]
    var count: Int? { nil }
    var currentIndex = 0
    var isAtEnd: Bool { currentIndex > 0 }

    mutating func decodeNil() throws -> Bool { false }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        currentIndex += 1
        let (value, fieldType) = try SchemaProbe.probe(type, codingPath: codingPath)
        if case .unknown = element.shape { element.shape = .primitive(fieldType) }
        if case .object = fieldType { element.shape = .primitive(fieldType) }
        return value
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type
    ) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        currentIndex += 1
        return try SchemaProbe(recorder: element, codingPath: codingPath).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        currentIndex += 1
        return try SchemaProbe(recorder: element, codingPath: codingPath).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder { SchemaProbe(recorder: element, codingPath: codingPath) }
}

struct SingleValueProbe: SingleValueDecodingContainer {
    let recorder: SchemaRecorder
    var codingPath: [any CodingKey]

    func decodeNil() -> Bool { false }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let (value, fieldType) = try SchemaProbe.probe(type, codingPath: codingPath)
        recorder.shape = .primitive(fieldType)
        return value
    }
}

extension EntityFieldType {
    /// Whether a value of this type fits one SQL column of its own kind (everything but objects, arrays and
    /// free-form JSON, which SQL stores keep as JSON text): conditions and ordering on it can run in SQL.
    package var isScalar: Bool {
        switch self {
        case .object, .array, .json: false
        default: true
        }
    }
}

/// What the SQL stores share.
package enum SQLText {
    /// An identifier in double quotes, its own quotes doubled (`"Name"`, `"a""b"`).
    package static func quote(_ identifier: String) -> String {
        "\"" + identifier.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
    }
}

extension EntityCodec {
    /// An entity from a stored row: each property's JSON form from `column`; a null optional is left out.
    package func decode(columns column: (EntityField) throws -> JSON) throws -> Entity {
        var object = JSONObject()
        for field in schema.fields {
            let value = try column(field)
            if value == .null && field.isOptional { continue }
            object[field.name] = value
        }
        return try decode(object)
    }
}
