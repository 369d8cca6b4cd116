import Synchronization

/// An entity resource that keeps its entities in memory, in insertion order.
///
/// ```swift
/// let heroes = InMemoryEntityStore<Superhero>(name: "Samples.Superhero", initial: [...])
/// api.register(resource: heroes)
/// ```
/// It applies conditions and paging itself (in one pass under its lock); updates and deletes find the
/// stored entities by their value as they were selected, so a change made meanwhile by another request is
/// not overwritten.
public final class InMemoryEntityStore<Entity: Codable & Sendable>: EntityResource, Sendable {
    public let resourceName: String
    public let resourceDescription: String?
    public let operations: EntityOperations
    public let views: [EntityView]
    private let codec: EntityCodec<Entity>
    private let rows = Mutex<[(entity: Entity, json: JSONObject)]>([])

    /// Creates a store.
    /// - Parameters:
    ///   - name: The full resource name (default: the module-qualified entity type name).
    ///   - description: What it holds.
    ///   - operations: What clients may do (default: everything).
    ///   - views: Named presets of conditions and meta-conditions (`/<resource>-<view>`).
    ///   - initial: The entities it starts with.
    /// - Throws: When the entity type's properties cannot be learned (see ``EntitySchema``).
    public init(
        name: String? = nil, description: String? = nil, operations: EntityOperations = .all, views: [EntityView] = [],
        initial: [Entity] = []
    ) throws {
        self.views = views
        resourceName = name ?? defaultResourceName(for: Entity.self)
        resourceDescription = description
        self.operations = operations
        codec = try EntityCodec<Entity>(resource: resourceName)
        let encoded = try initial.map { ($0, try codec.encode($0)) }
        rows.withLock { $0 = encoded }
    }

    /// Reads are loops in memory that call ``QueryProgress/advance()``: they run in the caller's task.
    public var selectsCooperatively: Bool { true }

    /// Every stored entity, in insertion order.
    public var all: [Entity] { rows.withLock { $0.map { $0.entity } } }

    public func select(_ request: EntitySelectRequest) async throws -> EntitySelection<Entity> {
        let snapshot = rows.withLock { $0 }
        let paging = request.paging
        // Without conditions or an order, a page is a slice: no other row is looked at.
        if request.conditions.isEmpty, let paging, paging.order == nil {
            return Self.selection(Self.page(of: snapshot, offset: paging.offset, limit: paging.limit), paged: true)
        }
        // Without an order, the scan stops at the last row of the page.
        let enough = paging.flatMap { paging in paging.order == nil ? paging.limit.map { paging.offset + $0 } : nil } ?? .max
        var matching: [(entity: Entity, json: JSONObject)] = []
        var progress = QueryProgress()
        for row in snapshot where matching.count < enough {
            try await progress.advance()
            if request.conditions.allSatisfy({ $0.matches(entity: row.json) }) { matching.append(row) }
        }
        guard let paging else { return Self.selection(matching[...], paged: false) }
        var ordered = matching
        if let order = paging.order { ordered = order.sorted(ordered, by: \.json) }
        return Self.selection(Self.page(of: ordered, offset: paging.offset, limit: paging.limit), paged: true)
    }

    /// The rows of a page, by index: the collection algorithms (`dropFirst`, `prefix`) would look up the row
    /// tuple's metadata at run time on every call, the store being generic.
    private static func page(
        of rows: [(entity: Entity, json: JSONObject)], offset: Int, limit: Int?
    ) -> ArraySlice<(entity: Entity, json: JSONObject)> {
        let start = min(max(offset, 0), rows.count)
        let end = limit.map { start + min(max($0, 0), rows.count - start) } ?? rows.count
        return rows[start..<end]
    }

    /// Rows as a selection that carries their JSON, so that they are not encoded again.
    private static func selection(_ rows: ArraySlice<(entity: Entity, json: JSONObject)>, paged: Bool) -> EntitySelection<Entity> {
        var selection = EntitySelection<Entity>.filtered(rows.map { $0.entity }, paged: paged)
        selection.encoded = rows.map { $0.json }
        return selection
    }

    public func insert(_ entities: [Entity], caller: RESTCaller) async throws -> [Entity] {
        let encoded = try entities.map { ($0, try codec.encode($0)) }
        rows.withLock { $0.append(contentsOf: encoded) }
        return entities
    }

    public func update(_ updates: [EntityUpdate<Entity>], caller: RESTCaller) async throws -> [Entity] {
        let prepared = try updates.map { (old: try codec.encode($0.old), new: ($0.new, try codec.encode($0.new))) }
        return rows.withLock { rows in
            var updated: [Entity] = []
            var taken: Set<Int> = []
            for update in prepared {
                guard let index = rows.indices.first(where: { !taken.contains($0) && rows[$0].json == update.old }) else { continue }
                taken.insert(index)
                rows[index] = update.new
                updated.append(update.new.0)
            }
            return updated
        }
    }

    public func delete(_ entities: [Entity], caller: RESTCaller) async throws -> Int {
        let targets = try entities.map { try codec.encode($0) }
        return rows.withLock { rows in
            var doomed: Set<Int> = []
            for target in targets {
                if let index = rows.indices.first(where: { !doomed.contains($0) && rows[$0].json == target }) { doomed.insert(index) }
            }
            rows = rows.enumerated().filter { !doomed.contains($0.offset) }.map(\.element)
            return doomed.count
        }
    }
}
