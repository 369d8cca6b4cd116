#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTPTypes

/// A registered entity resource: its name, schema and methods, with the entity type erased.
///
/// Its fields are held in one reference: a descriptor travels with every query (``EntityQuery/resource``), and
/// a copy of a dozen fields cost a retain and a release for each.
public struct EntityDescriptor: Sendable {
    /// The full resource name.
    public var name: String { box.fields.name }
    /// What the resource holds.
    public var summary: String? { box.fields.summary }
    /// The operations it supports.
    public var operations: EntityOperations { box.fields.operations }
    /// Its properties.
    public var schema: EntitySchema { box.fields.schema }
    /// Its views.
    public var views: [EntityView] { box.fields.views }
    /// The methods clients may use.
    public var methods: [RESTMethod] { operations.methods }
    /// The media types of its entities' documents (``EntityDocumentResource``); empty for most resources.
    public var documentTypes: [String] { box.fields.documentTypes }

    var select: @Sendable (EntitySelectRequest) async throws -> ErasedSelection { box.fields.select }
    /// Whether reads run in the caller's task (``EntityResource/selectsCooperatively``).
    var selectsCooperatively: Bool { box.fields.selectsCooperatively }
    var insert: @Sendable ([JSONObject], RESTCaller) async throws -> [JSONObject] { box.fields.insert }
    var update: @Sendable ([(old: any Sendable, new: JSONObject)], RESTCaller) async throws -> [JSONObject] {
        box.fields.update
    }
    var delete: @Sendable ([any Sendable], RESTCaller) async throws -> Int { box.fields.delete }
    var document: (@Sendable (any Sendable, RESTCaller) async throws -> EntityDocument)? { box.fields.document }

    private final class Box: Sendable {
        let fields: Fields
        init(_ fields: Fields) { self.fields = fields }
    }

    private let box: Box

    init<R: EntityResource>(_ resource: R) throws { box = Box(try Fields(resource)) }

    /// The descriptor of a resource whose entities are documents too.
    init<R: EntityDocumentResource>(documents resource: R) throws { box = Box(try Fields(documents: resource)) }

    private struct Fields: Sendable {
        /// The full resource name.
        let name: String
        /// What the resource holds.
        let summary: String?
        /// The operations it supports.
        let operations: EntityOperations
        /// Its properties.
        let schema: EntitySchema
        /// Its views.
        let views: [EntityView]

        let select: @Sendable (EntitySelectRequest) async throws -> ErasedSelection
        /// Whether reads run in the caller's task (``EntityResource/selectsCooperatively``).
        let selectsCooperatively: Bool
        let insert: @Sendable ([JSONObject], RESTCaller) async throws -> [JSONObject]
        let update: @Sendable ([(old: any Sendable, new: JSONObject)], RESTCaller) async throws -> [JSONObject]
        let delete: @Sendable ([any Sendable], RESTCaller) async throws -> Int
        /// The media types of its entities' documents (``EntityDocumentResource``); empty for most resources.
        var documentTypes: [String] = []
        var document: (@Sendable (any Sendable, RESTCaller) async throws -> EntityDocument)?

        init<R: EntityResource>(_ resource: R) throws {
            let codec = try EntityCodec<R.Entity>(resource: resource.resourceName)
            name = resource.resourceName
            summary = resource.resourceDescription
            operations = resource.operations
            schema = codec.schema
            views = resource.views
            selectsCooperatively = resource.selectsCooperatively
            select = { request in
                let selection = try await resource.select(request)
                if selection.appliedPaging && !selection.appliedConditions {
                    throw SwitchboardError(
                        .internalServerError, code: .internalError,
                        "Resource '\(resource.resourceName)' applied paging without applying the conditions")
                }
                let rows: ArraySlice<JSONObject>
                if let encoded = selection.encoded, encoded.count == selection.selected.count {
                    rows = encoded
                } else {
                    var encoding: [JSONObject] = []
                    encoding.reserveCapacity(selection.selected.count)
                    var progress = QueryProgress()
                    for entity in selection.selected {
                        try await progress.advance()
                        encoding.append(try codec.encode(entity))
                    }
                    rows = encoding[...]
                }
                return ErasedSelection(
                    rows: SelectedRows(rows), entities: TypedEntities(all: selection.selected),
                    appliedConditions: selection.appliedConditions, appliedPaging: selection.appliedPaging)
            }
            insert = { objects, caller in
                let entities = try objects.map { object throws(SwitchboardError) in try codec.decode(object) }
                return try await resource.insert(entities, caller: caller).map { try codec.encode($0) }
            }
            update = { pairs, caller in
                var updates: [EntityUpdate<R.Entity>] = []
                for pair in pairs {
                    guard let old = pair.old as? R.Entity else { continue }
                    updates.append(EntityUpdate(old: old, new: try codec.decode(pair.new)))
                }
                return try await resource.update(updates, caller: caller).map { try codec.encode($0) }
            }
            delete = { entities, caller in
                try await resource.delete(entities.compactMap { $0 as? R.Entity }, caller: caller)
            }
        }

        /// The fields of a resource whose entities are documents too.
        init<R: EntityDocumentResource>(documents resource: R) throws {
            try self.init(resource)
            documentTypes = resource.documentTypes.map { $0.lowercased() }
            document = { entity, caller in
                guard let entity = entity as? R.Entity else {
                    throw SwitchboardError(.internalServerError, code: .internalError, "'\(resource.resourceName)' selected an entity of another type")
                }
                return try await resource.document(of: entity, caller: caller)
            }
        }
    }

    /// What `OPTIONS` shows for the resource.
    public var options: JSON {
        var object: JSONObject = [
            "Resource": .string(name),
            "ResourceKind": "EntityResource",
            "Methods": .array(methods.map { .string($0.rawValue) }),
        ]
        if let summary { object["Description"] = .string(summary) }
        if !documentTypes.isEmpty { object["DocumentTypes"] = .array(documentTypes.map { .string($0) }) }
        object["Properties"] = schema.json
        if !views.isEmpty {
            object["Views"] = .array(
                views.map { view in
                    var entry: JSONObject = ["Name": .string(view.name)]
                    if let summary = view.summary { entry["Description"] = .string(summary) }
                    return .object(entry)
                })
        }
        return .object(object)
    }
}

/// Selected entities with their JSON forms, index for index.
struct ErasedSelection: Sendable {
    var rows: SelectedRows
    /// The resource's `[Entity]` as it is: erasing the array, not each entity, so that a query that only
    /// reads the rows (every `GET`) does not box every entity it found.
    var entities: any EntityList
    var appliedConditions: Bool
    var appliedPaging: Bool
}

/// The JSON forms of selected entities, indexed from 0: a part of the store's own array (the in-memory store's
/// page, never copied) or an array of their own.
struct SelectedRows: RandomAccessCollection, Sendable {
    private let all: ArraySlice<JSONObject>

    init(_ all: ArraySlice<JSONObject>) { self.all = all }

    var startIndex: Int { 0 }
    var endIndex: Int { all.count }
    subscript(position: Int) -> JSONObject { all[all.startIndex + position] }
}

/// An array of a resource's entities, read one at a time as `any Sendable` (``ErasedSelection``).
protocol EntityList: Sendable {
    /// The entity at `index`, erased.
    func entity(at index: Int) -> any Sendable
}

/// A resource's entities as the resource gave them.
struct TypedEntities<Entity: Sendable>: EntityList {
    let all: ArraySlice<Entity>

    func entity(at index: Int) -> any Sendable { all[all.startIndex + index] }
}

/// Converts entities to and from the JSON clients see: client property names, ISO 8601 dates.
///
/// Stores use it to keep entities in a form the query language reads (see ``InMemoryEntityStore``).
public struct EntityCodec<Entity: Codable & Sendable>: Sendable {
    /// The entity type's properties.
    public let schema: EntitySchema
    /// The resource name used in error messages.
    public let resource: String

    /// Learns the entity type's schema.
    /// - Parameter resource: The resource name used in error messages.
    public init(resource: String) throws {
        do {
            schema = try EntitySchema(of: Entity.self)
        } catch {
            throw SwitchboardError(
                .internalServerError, code: .internalError,
                "Cannot learn the properties of \(Entity.self) for resource '\(resource)': \(error). Property types must be Codable; enums must be CaseIterable"
            )
        }
        self.resource = resource
    }

    /// The entity as a JSON object with client property names.
    public func encode(_ entity: Entity) throws -> JSONObject {
        // Straight into JSON, as `JSONEncoder` with sorted keys would write it: declared properties are put back
        // in declaration order by `rename`; free-form JSON values keep sorted keys, so that the output is stable.
        guard case .object(let object) = try JSONValueEncoder().encode(entity) else {
            throw SwitchboardError(.internalServerError, code: .internalError, "\(Entity.self) did not encode to a JSON object")
        }
        return Self.rename(object, schema: schema, toClient: true)
    }

    /// Checks an input object against the schema and decodes it; every problem is a 400 that names the property.
    public func decode(_ object: JSONObject) throws(SwitchboardError) -> Entity {
        try Self.check(object, schema: schema, path: "", resource: resource)
        let renamed = Self.rename(object, schema: schema, toClient: false)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = ISO8601.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not an ISO 8601 date")
            }
            return date
        }
        do {
            return try decoder.decode(Entity.self, from: Data(JSON.object(renamed).compact.utf8))
        } catch {
            throw SwitchboardError(
                .badRequest, code: .invalidEntity, "Invalid entity for resource '\(resource)': \(Self.describe(error))")
        }
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            "missing property '\(path(context.codingPath + [key]))'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "wrong type for '\(path(context.codingPath))': \(context.debugDescription)"
        case DecodingError.dataCorrupted(let context):
            "invalid value for '\(path(context.codingPath))': \(context.debugDescription)"
        default: "\(error)"
        }
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.map { SchemaRecorderKeyed.clientName($0.stringValue) }.joined(separator: ".")
    }

    /// Renames members between coding keys and client names, recursively for nested objects.
    static func rename(_ object: JSONObject, schema: EntitySchema, toClient: Bool) -> JSONObject {
        var result = JSONObject()
        // Encoders write keys in any order: put the declared properties first, in declaration order.
        let ordered =
            schema.fields.compactMap { field in object[field.codingKey].map { (key: field.codingKey, value: $0) } }
            + object.members.filter { member in !schema.fields.contains { $0.codingKey == member.key } }
        for (key, value) in toClient ? ordered : object.members {
            guard let field = schema.field(named: key) else {
                result[key] = value
                continue
            }
            var converted = value
            if case .object(let nested) = field.type, case .object(let inner) = value {
                converted = .object(rename(inner, schema: nested, toClient: toClient))
            } else if case .array(.object(let nested)) = field.type, case .array(let elements) = value {
                converted = .array(
                    elements.map { element in
                        guard case .object(let inner) = element else { return element }
                        return .object(rename(inner, schema: nested, toClient: toClient))
                    })
            }
            result[toClient ? field.name : field.codingKey] = converted
        }
        return result
    }

    static func check(_ object: JSONObject, schema: EntitySchema, path: String, resource: String) throws(SwitchboardError) {
        var seen: Set<String> = []
        for (key, value) in object.members {
            let where_ = path.isEmpty ? key : path + "." + key
            guard let field = schema.field(named: key) else {
                throw SwitchboardError(
                    .badRequest, code: .invalidEntity,
                    "Unknown property '\(where_)' in the input for resource '\(resource)'; the properties are \(schema.fields.map(\.name).joined(separator: ", "))"
                )
            }
            guard seen.insert(field.name).inserted else {
                throw SwitchboardError(
                    .badRequest, code: .invalidEntity, "Property '\(where_)' is given more than once in the input for resource '\(resource)'")
            }
            try checkValue(value, field.type, optional: field.isOptional, where: path.isEmpty ? field.name : path + "." + field.name, resource: resource)
        }
        for field in schema.fields where !field.isOptional && !seen.contains(field.name) {
            let where_ = path.isEmpty ? field.name : path + "." + field.name
            throw SwitchboardError(
                .badRequest, code: .invalidEntity,
                "Missing property '\(where_)' (\(field.type.name)) in the input for resource '\(resource)'")
        }
    }

    static func checkValue(
        _ value: JSON, _ type: EntityFieldType, optional: Bool, where path: String, resource: String
    )
        throws(SwitchboardError)
    {
        if case .null = value {
            if optional || type == .json { return }
            throw SwitchboardError(
                .badRequest, code: .invalidEntity, "Property '\(path)' of resource '\(resource)' cannot be null; expected \(type.expectation)")
        }
        let valid: Bool
        switch (type, value) {
        case (.json, _): valid = true
        case (.object(let nested), .object(let inner)):
            try check(inner, schema: nested, path: path, resource: resource)
            valid = true
        case (.array(let element), .array(let elements)):
            for (index, item) in elements.enumerated() {
                try checkValue(item, element, optional: false, where: "\(path)[\(index)]", resource: resource)
            }
            valid = true
        case (.object, _), (.array, _): valid = false
        default: valid = EntityValue(json: value, as: type) != nil
        }
        if !valid {
            throw SwitchboardError(
                .badRequest, code: .invalidEntity,
                "Invalid value \(SwitchboardError.excerpt(value.compact)) for property '\(path)' of resource '\(resource)': expected \(type.name == "Object" ? "an object" : type.expectation)"
            )
        }
    }
}
