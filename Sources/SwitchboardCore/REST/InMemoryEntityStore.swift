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
///
/// It keeps each entity three ways: the value, its JSON, and that JSON printed, so that a page is answered
/// by copying the printed entities rather than printing them again (the printed form is about as large as
/// the JSON text of the entities).
public final class InMemoryEntityStore<Entity: Codable & Sendable>: EntityResource, Sendable {
    public let resourceName: String
    public let resourceDescription: String?
    public let operations: EntityOperations
    public let views: [EntityView]
    private let codec: EntityCodec<Entity>
    private let rows = Mutex(Rows())

    /// The stored entities and their JSON, side by side: a page is two slices copied whole, where an array of
    /// pairs was copied pair by pair through the pair type's metadata, the store being generic.
    private struct Rows {
        var entities: [Entity] = []
        var json: [JSONObject] = []

        mutating func append(_ entity: Entity, _ object: JSONObject) {
            entities.append(entity)
            json.append(object)
        }
    }

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
        let encoded = try initial.map { try codec.encode($0).keepingPrintedForm() }
        rows.withLock { $0 = Rows(entities: initial, json: encoded) }
    }

    /// Reads are loops in memory that call ``QueryProgress/advance()``: they run in the caller's task.
    public var selectsCooperatively: Bool { true }

    /// Every stored entity, in insertion order.
    public var all: [Entity] { rows.withLock { $0.entities } }

    public func select(_ request: EntitySelectRequest) async throws -> EntitySelection<Entity> {
        let snapshot = rows.withLock { $0 }
        let paging = request.paging
        // Without conditions or an order, a page is a slice: no other row is looked at.
        if request.conditions.isEmpty, let paging, paging.order == nil {
            let page = Self.page(count: snapshot.entities.count, offset: paging.offset, limit: paging.limit)
            return Self.selection(snapshot.entities[page], json: snapshot.json[page], paged: true)
        }
        // Without an order, the scan stops at the last row of the page.
        let enough = paging.flatMap { paging in paging.order == nil ? paging.limit.map { paging.offset + $0 } : nil } ?? .max
        var matching: [Int] = []
        var progress = QueryProgress()
        try await progress.forEachBatch(of: snapshot.json.indices) { batch in
            Self.collectMatching(snapshot.json, in: batch, conditions: request.conditions, upTo: enough, into: &matching)
            return matching.count < enough
        }
        var chosen = matching
        if let paging {
            if let order = paging.order { chosen = order.sorted(matching, by: { snapshot.json[$0] }) }
            chosen = Array(chosen[Self.page(count: chosen.count, offset: paging.offset, limit: paging.limit)])
        }
        return Self.selection(
            chosen.map { snapshot.entities[$0] }[...], json: chosen.map { snapshot.json[$0] }[...], paged: paging != nil)
    }

    /// Appends the positions of the rows in `range` that meet every condition, until `matching` has `limit`.
    private static func collectMatching(
        _ rows: [JSONObject], in range: Range<Int>, conditions: [EntityCondition], upTo limit: Int, into matching: inout [Int]
    ) {
        for index in range where matching.count < limit {
            let row = rows[index]
            if conditions.allSatisfy({ $0.matches(entity: row) }) { matching.append(index) }
        }
    }

    /// The positions of a page among `count` rows.
    private static func page(count: Int, offset: Int, limit: Int?) -> Range<Int> {
        let start = min(max(offset, 0), count)
        let end = limit.map { start + min(max($0, 0), count - start) } ?? count
        return start..<end
    }

    /// Entities as a selection that carries their JSON, so that they are not encoded again; a page of the
    /// stored entities is not copied.
    private static func selection(_ entities: ArraySlice<Entity>, json: ArraySlice<JSONObject>, paged: Bool) -> EntitySelection<Entity> {
        var selection = EntitySelection<Entity>(selected: entities, appliedConditions: true, appliedPaging: paged)
        selection.encoded = json
        return selection
    }

    public func insert(_ entities: [Entity], caller: RESTCaller) async throws -> [Entity] {
        let encoded = try entities.map { try codec.encode($0).keepingPrintedForm() }
        rows.withLock { rows in
            rows.entities.append(contentsOf: entities)
            rows.json.append(contentsOf: encoded)
        }
        return entities
    }

    public func update(_ updates: [EntityUpdate<Entity>], caller: RESTCaller) async throws -> [Entity] {
        let prepared = try updates.map { (old: try codec.encode($0.old), new: ($0.new, try codec.encode($0.new).keepingPrintedForm())) }
        return rows.withLock { rows in
            var updated: [Entity] = []
            var taken: Set<Int> = []
            for update in prepared {
                guard let index = rows.json.indices.first(where: { !taken.contains($0) && rows.json[$0] == update.old }) else {
                    continue
                }
                taken.insert(index)
                (rows.entities[index], rows.json[index]) = update.new
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
                if let index = rows.json.indices.first(where: { !doomed.contains($0) && rows.json[$0] == target }) { doomed.insert(index) }
            }
            var kept = Rows()
            for index in rows.json.indices where !doomed.contains(index) { kept.append(rows.entities[index], rows.json[index]) }
            rows = kept
            return doomed.count
        }
    }
}
