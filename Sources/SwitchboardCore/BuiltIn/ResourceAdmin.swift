/// One resource, as `Switchboard.Admin.Resource` lists it.
public struct ResourceEntry: Codable, Sendable {
    /// The full resource name.
    public var name: String
    /// `EntityResource` or `TerminalResource`.
    public var kind: String
    /// What the resource is for.
    public var description: String?
    /// Every method the resource has (whoever may use them).
    public var methods: [String]
    /// The names of its views (entity resources).
    public var views: [String]
}

/// `Switchboard.Admin.Resource`: every registered resource with its kind, methods and views, whatever the
/// caller's rights (`Switchboard.AvailableResource` lists what the caller may use).
final class ResourceAdmin: EntityResource, Sendable {
    var resourceName: String { "Switchboard.Admin.Resource" }
    var resourceDescription: String? { "Every resource of this API, with its kind, methods and views" }
    private weak let api: SwitchboardAPI?

    init(api: SwitchboardAPI) { self.api = api }

    func select(_ request: EntitySelectRequest) async throws -> EntitySelection<ResourceEntry> {
        .unfiltered(
            (api?.resources ?? []).map { resource in
                ResourceEntry(
                    name: resource.name, kind: resource.kind, description: resource.summary, methods: resource.methods.map(\.rawValue),
                    views: resource.viewNames)
            })
    }
}

/// One resource's properties, as `Switchboard.Admin.Schema` lists them.
public struct SchemaEntry: Codable, Sendable {
    /// The full resource name.
    public var resource: String
    /// `EntityResource` or `TerminalResource`.
    public var kind: String
    /// Property name → type name (`String`, `Int?`, ...), nested objects inline.
    public var properties: JSON
}

/// `Switchboard.Admin.Schema`: the properties of every resource and their types. A `Resource` condition takes
/// any name the API resolves (`/switchboard.admin.schema/resource=superhero`), as a URI would.
final class SchemaAdmin: EntityResource, Sendable {
    var resourceName: String { "Switchboard.Admin.Schema" }
    var resourceDescription: String? { "The properties of each resource and their types; ask for one with resource=<name>" }
    private weak let api: SwitchboardAPI?

    init(api: SwitchboardAPI) { self.api = api }

    func select(_ request: EntitySelectRequest) async throws -> EntitySelection<SchemaEntry> {
        guard let api else { return .unfiltered([]) }
        let entries = api.resources.map { SchemaEntry(resource: $0.name, kind: $0.kind, properties: $0.propertyTypes) }
        // `Resource=<short name>`: resolved as in a URI (an unknown name is a 404 that lists the names).
        let byName = request.conditions.filter { $0.path == ["Resource"] && $0.op == .equal }
        guard !byName.isEmpty, byName.count == request.conditions.count else { return .unfiltered(entries) }
        var names: Set<String> = []
        for condition in byName {
            guard case .string(let written) = condition.value else { return .filtered([]) }
            names.insert(try api.resource(named: written, visibleTo: request.caller.identity).name)
        }
        return .filtered(names.count == 1 ? entries.filter { names.contains($0.resource) } : [])
    }
}
