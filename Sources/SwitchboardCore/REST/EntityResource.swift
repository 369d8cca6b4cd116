public import HTTPTypes

/// A resource of entities that clients query with the URI language and change with POST, PUT, PATCH and
/// DELETE, over HTTP and through the Shell.
///
/// Declare the entity as a `Codable` type and implement the operations you support; Switchboard applies
/// conditions, search, ordering, paging and projection itself, so a resource that can only list its
/// entities still gets the whole query language:
///
/// ```swift
/// struct Planet: Codable, Sendable { var name: String; var moons: Int }
///
/// struct Planets: EntityResource {
///     func select(_ request: EntitySelectRequest) async throws -> EntitySelection<Planet> {
///         .unfiltered([Planet(name: "Earth", moons: 1), Planet(name: "Mars", moons: 2)])
///     }
/// }
/// api.register(resource: Planets())
/// ```
///
/// A resource that can do better, such as a database, takes over filtering (and paging) by applying
/// ``EntitySelectRequest/conditions`` (and ``EntitySelectRequest/paging``) and saying so in the
/// ``EntitySelection`` it returns. For ready-made stores see ``InMemoryEntityStore`` and the
/// `SwitchboardSQLite` module.
///
/// Property names are the coding keys with their first letter upper-cased (`hasSecretIdentity` is
/// `HasSecretIdentity`); clients may write them in any case.
public protocol EntityResource: Sendable {
    /// The entity type.
    associatedtype Entity: Codable & Sendable

    /// The full resource name clients use (default: the module-qualified entity type name, such as
    /// `MyApp.Superhero`). Clients may write any dot-suffix of it, in any case.
    var resourceName: String { get }
    /// What the resource holds, shown by `OPTIONS` and `Switchboard.AvailableResource`. Default `nil`.
    var resourceDescription: String? { get }
    /// The operations the resource supports (default: select only). They decide its methods: select gives
    /// GET, REPORT and HEAD; insert gives POST; update gives PATCH; insert and update together give PUT;
    /// delete gives DELETE.
    var operations: EntityOperations { get }
    /// Named presets of conditions and meta-conditions that clients open as `/<resource>-<view>`
    /// (default none).
    var views: [EntityView] { get }
    /// Whether ``select(_:)`` does only quick work that does not block, and calls ``QueryProgress/advance()``
    /// in its loops over rows (default `false`). Switchboard then runs a read in the caller's own task, where
    /// `advance()` enforces the query deadline, instead of in a task of its own that the caller can leave at
    /// the deadline: a task and two thread switches less per read. ``InMemoryEntityStore`` says so; a store
    /// that waits on a database or the network should not.
    var selectsCooperatively: Bool { get }

    /// Returns the entities for a query. Return them all (``EntitySelection/unfiltered(_:)``) and
    /// Switchboard filters; or apply the conditions, and the paging when offered, and say so.
    func select(_ request: EntitySelectRequest) async throws -> EntitySelection<Entity>
    /// Stores new entities and returns them as stored. Called for POST, and for PUT that matches nothing.
    func insert(_ entities: [Entity], caller: RESTCaller) async throws -> [Entity]
    /// Replaces entities, each given as it was selected and as it should become; returns the new values of
    /// those that were replaced. An entity that changed since it was selected may be skipped.
    func update(_ updates: [EntityUpdate<Entity>], caller: RESTCaller) async throws -> [Entity]
    /// Deletes entities, given as they were selected, and returns how many were deleted.
    func delete(_ entities: [Entity], caller: RESTCaller) async throws -> Int
}

extension EntityResource {
    public var resourceName: String { defaultResourceName(for: Entity.self) }
    public var resourceDescription: String? { nil }
    public var operations: EntityOperations { .select }
    public var views: [EntityView] { [] }
    public var selectsCooperatively: Bool { false }
    public func insert(_ entities: [Entity], caller: RESTCaller) async throws -> [Entity] {
        throw SwitchboardError(.methodNotAllowed, code: .methodNotAllowed, "Resource '\(resourceName)' does not insert")
    }
    public func update(_ updates: [EntityUpdate<Entity>], caller: RESTCaller) async throws -> [Entity] {
        throw SwitchboardError(.methodNotAllowed, code: .methodNotAllowed, "Resource '\(resourceName)' does not update")
    }
    public func delete(_ entities: [Entity], caller: RESTCaller) async throws -> Int {
        throw SwitchboardError(.methodNotAllowed, code: .methodNotAllowed, "Resource '\(resourceName)' does not delete")
    }
}

/// The operations an entity resource supports.
public struct EntityOperations: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// Listing entities: GET, REPORT, HEAD.
    public static let select = EntityOperations(rawValue: 1)
    /// Adding entities: POST (and PUT with ``update``).
    public static let insert = EntityOperations(rawValue: 2)
    /// Changing entities: PATCH (and PUT with ``insert``).
    public static let update = EntityOperations(rawValue: 4)
    /// Removing entities: DELETE.
    public static let delete = EntityOperations(rawValue: 8)
    /// Everything.
    public static let all: EntityOperations = [.select, .insert, .update, .delete]

    /// Whether these operations give `method` (what ``methods`` contains, without making the list).
    public func supports(_ method: RESTMethod) -> Bool {
        switch method {
        case .GET, .REPORT, .HEAD: contains(.select)
        case .POST: contains(.insert)
        case .PATCH: contains(.update)
        case .PUT: contains([.insert, .update])
        case .DELETE: contains(.delete)
        case .OPTIONS: true
        }
    }

    /// The methods these operations give, in canonical order, with OPTIONS last.
    public var methods: [RESTMethod] {
        var result: [RESTMethod] = []
        if contains(.select) { result.append(.GET) }
        if contains(.insert) { result.append(.POST) }
        if contains(.update) { result.append(.PATCH) }
        if contains([.insert, .update]) { result.append(.PUT) }
        if contains(.delete) { result.append(.DELETE) }
        if contains(.select) { result += [.REPORT, .HEAD] }
        result.append(.OPTIONS)
        return result
    }
}

/// Who makes a REST request: the connection (for requests from the Shell) or the HTTP client.
///
/// It is passed to every resource operation, so that a resource, or an access policy in front of it,
/// can decide per caller.
public struct RESTCaller: Sendable {
    /// The WebSocket connection's id, for requests made through a terminal.
    public var connectionID: String? {
        get { storage.connectionID }
        set { uniqueStorage().connectionID = newValue }
    }
    /// The client's IP address.
    public var clientIP: String {
        get { storage.clientIP }
        set { uniqueStorage().clientIP = newValue }
    }
    /// The request's headers (for the Shell: the connection's headers with the Shell's own).
    public var headers: HTTPFields {
        get { storage.headers }
        set { uniqueStorage().headers = newValue }
    }
    /// Who the caller is. `nil` until authenticated: ``SwitchboardAPI/execute(_:)`` then authenticates
    /// it from ``headers`` and sets it before any resource sees the request.
    public var identity: AccessIdentity? {
        get { storage.identity }
        set { uniqueStorage().identity = newValue }
    }

    /// The values, shared by copies until one of them changes: a request hands its caller on several times
    /// (to the query, the store, the response), and a copy is then one reference, not the headers', the
    /// address's and the identity's each.
    private var storage: Storage

    private final class Storage: @unchecked Sendable {
        var connectionID: String?
        var clientIP: String
        var headers: HTTPFields
        var identity: AccessIdentity?

        init(connectionID: String?, clientIP: String, headers: HTTPFields, identity: AccessIdentity?) {
            self.connectionID = connectionID
            self.clientIP = clientIP
            self.headers = headers
            self.identity = identity
        }
    }

    public init(
        connectionID: String? = nil, clientIP: String = "", headers: HTTPFields = HTTPFields(), identity: AccessIdentity? = nil
    ) {
        storage = Storage(connectionID: connectionID, clientIP: clientIP, headers: headers, identity: identity)
    }

    /// The storage, made this value's own first if another copy shares it.
    private mutating func uniqueStorage() -> Storage {
        if !isKnownUniquelyReferenced(&storage) {
            storage = Storage(connectionID: storage.connectionID, clientIP: storage.clientIP, headers: storage.headers, identity: storage.identity)
        }
        return storage
    }
}

/// What a resource is asked to select.
public struct EntitySelectRequest: Sendable {
    /// The conditions, all of which an entity must meet. Apply them and set
    /// ``EntitySelection/appliedConditions``, or leave them to Switchboard.
    public let conditions: [EntityCondition]
    /// Ordering and paging the resource may apply, offered only when nothing that Switchboard does after
    /// selecting would change the result (no `search`, no `distinct`). Apply all of it, after the
    /// conditions, and set ``EntitySelection/appliedPaging``, or none of it.
    public let paging: EntityPaging?
    /// Who asks.
    public let caller: RESTCaller

    public init(conditions: [EntityCondition], paging: EntityPaging?, caller: RESTCaller) {
        self.conditions = conditions
        self.paging = paging
        self.caller = caller
    }
}

/// Ordering and paging offered to a resource: order (if any), then skip `offset`, then take at most `limit`.
public struct EntityPaging: Sendable, Equatable {
    /// The ordering; without one the resource's natural order (such as insertion order) is used.
    public let order: EntityOrder?
    /// How many entities to skip (never negative here).
    public let offset: Int
    /// The most entities to return; `nil` for no limit.
    public let limit: Int?
}

/// The entities a resource selected, and how much of the query it applied.
public struct EntitySelection<Entity: Sendable>: Sendable {
    /// The entities.
    public var entities: [Entity] {
        get { Array(selected) }
        _modify {
            // The whole of an array comes back as that array, without a copy, and is changed in place.
            var entities = Array(selected)
            selected = []
            defer { selected = entities[...] }
            yield &entities
        }
    }
    /// The entities as the store gave them: an array, or a part of the store's own (the in-memory store's
    /// page), which a `GET` then never copies.
    package var selected: ArraySlice<Entity>
    /// Whether every condition was applied.
    public var appliedConditions: Bool
    /// Whether the offered ordering and paging were applied (requires ``appliedConditions``).
    public var appliedPaging: Bool
    /// The entities as JSON, when the store keeps them so (the in-memory store, a part of its own array): not
    /// encoded again, nor copied.
    var encoded: ArraySlice<JSONObject>?

    public init(entities: [Entity], appliedConditions: Bool, appliedPaging: Bool) {
        self.init(selected: entities[...], appliedConditions: appliedConditions, appliedPaging: appliedPaging)
    }

    package init(selected: ArraySlice<Entity>, appliedConditions: Bool, appliedPaging: Bool) {
        self.selected = selected
        self.appliedConditions = appliedConditions
        self.appliedPaging = appliedPaging
    }

    /// All entities; Switchboard applies the whole query.
    public static func unfiltered(_ entities: [Entity]) -> Self {
        Self(entities: entities, appliedConditions: false, appliedPaging: false)
    }

    /// Entities that meet the conditions; `paged` says whether the offered paging was applied too.
    public static func filtered(_ entities: [Entity], paged: Bool = false) -> Self {
        Self(entities: entities, appliedConditions: true, appliedPaging: paged)
    }
}

/// An entity as it was selected, and as it should become.
public struct EntityUpdate<Entity: Sendable>: Sendable {
    /// The entity as it was selected (use it to find the stored one).
    public let old: Entity
    /// The new value.
    public let new: Entity

    public init(old: Entity, new: Entity) {
        self.old = old
        self.new = new
    }
}

/// A named preset of conditions and meta-conditions: `/superhero-modern` is `/superhero/year>=1960`.
///
/// A client's own conditions add to the view's; a client's meta-condition replaces the view's of the same
/// key (`/superhero-modern//order_desc=year` reverses the view's order).
public struct EntityView: Sendable {
    /// The name clients write after `-`, in any case.
    public let name: String
    /// What the view shows.
    public let summary: String?
    /// Conditions in URI form (`Year>=1960&HasSecretIdentity=true`).
    public let conditions: String
    /// Meta-conditions in URI form (`order_asc=Year&limit=10`).
    public let metaConditions: String

    /// Creates a view; registering the resource checks its conditions and meta-conditions.
    public init(_ name: String, description: String? = nil, conditions: String = "", metaConditions: String = "") {
        self.name = name
        self.summary = description
        self.conditions = conditions
        self.metaConditions = metaConditions
    }
}
