#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTPTypes
import Synchronization

/// A URI resolved against an entity resource: typed conditions and meta-conditions, and its canonical form.
///
/// Evaluation order: conditions → search → search_regex → order → offset → limit → add → rename → select; with
/// `distinct`, the projection (add, rename, select) and the removal of duplicates come before offset and limit.
public struct EntityQuery: Sendable {
    /// The resource.
    public var resource: EntityDescriptor { storage.resource }
    /// The view, if the URI named one (`/superhero-modern`).
    public var view: EntityView? { storage.view }
    /// The conditions the URI gave, all of which must hold (the view's come on top).
    public var conditions: [EntityCondition] {
        get { storage.conditions }
        _modify { yield &changing().conditions }
    }
    /// The view's conditions.
    var viewConditions: [EntityCondition] {
        get { storage.viewConditions }
        _modify { yield &changing().viewConditions }
    }
    /// The view's meta-conditions in canonical form, left out of ``canonical`` unless changed.
    var viewMetaConditions: [URICondition] {
        get { storage.viewMetaConditions }
        _modify { yield &changing().viewMetaConditions }
    }
    /// `limit`: the most entities to return (`nil`: no limit).
    public var limit: Int? {
        get { storage.limit }
        _modify { yield &changing().limit }
    }
    /// `offset`: how many to skip; negative takes the last |offset|.
    public var offset: Int {
        get { storage.offset }
        _modify { yield &changing().offset }
    }
    /// `order_asc` / `order_desc`.
    public var order: EntityOrder? {
        get { storage.order }
        _modify { yield &changing().order }
    }
    /// `select`: the output properties to keep, as written (dotted paths allowed).
    public var select: [String]? {
        get { storage.select }
        _modify { yield &changing().select }
    }
    /// `add`: dotted paths to add as output properties (`Name.Length`).
    public var add: [String] {
        get { storage.add }
        _modify { yield &changing().add }
    }
    /// `rename`: output properties to rename, `from->to`.
    public var rename: [(from: String, to: String)] {
        get { storage.rename }
        _modify { yield &changing().rename }
    }
    /// `distinct`: drop duplicate output objects.
    public var distinct: Bool {
        get { storage.distinct }
        _modify { yield &changing().distinct }
    }
    /// `search`: keep entities with a value that contains this text, ignoring case.
    public var search: String? {
        get { storage.search }
        _modify { yield &changing().search }
    }
    /// `search_regex`: keep entities with a value that the regular expression matches, ignoring case (matched
    /// in linear time, by a matcher of our own that no pattern can make backtrack).
    public var searchRegex: String? { regex?.pattern }
    var regex: LinearRegex? {
        get { storage.regex }
        _modify { yield &changing().regex }
    }
    /// `unsafe`: allow PATCH and DELETE on more than one entity.
    public var unsafe: Bool {
        get { storage.unsafe }
        _modify { yield &changing().unsafe }
    }
    /// `safepost`: the properties that identify an entity for POST, which then updates the entity each
    /// input object matches on them and inserts the objects that match none (RESTable's safe POST).
    public var safePost: [[EntityField]]? {
        get { storage.safePost }
        _modify { yield &changing().safePost }
    }

    /// What the query holds, in one reference: a query is copied several times on its way through a request
    /// (into the request, the resolved URI, the execution), and a copy of the fields themselves cost a retain and a
    /// release for each of them (and for each of the resource's). Copied when a query that shares it changes
    /// (``changing()``), so it is never written while shared.
    private final class Storage: @unchecked Sendable {
        let resource: EntityDescriptor
        let view: EntityView?
        @exclusivity(unchecked) var conditions: [EntityCondition] = []
        @exclusivity(unchecked) var viewConditions: [EntityCondition] = []
        @exclusivity(unchecked) var viewMetaConditions: [URICondition] = []
        @exclusivity(unchecked) var limit: Int? = nil
        @exclusivity(unchecked) var offset: Int = 0
        @exclusivity(unchecked) var order: EntityOrder? = nil
        @exclusivity(unchecked) var select: [String]? = nil
        @exclusivity(unchecked) var add: [String] = []
        @exclusivity(unchecked) var rename: [(from: String, to: String)] = []
        @exclusivity(unchecked) var distinct: Bool = false
        @exclusivity(unchecked) var search: String? = nil
        @exclusivity(unchecked) var regex: LinearRegex? = nil
        @exclusivity(unchecked) var unsafe: Bool = false
        @exclusivity(unchecked) var safePost: [[EntityField]]? = nil
        /// The canonical form and the page links once made, shared by the query's copies until one of them
        /// changes (the Shell runs the query of its location again and again, and every answer to a `GET`
        /// links its neighbouring pages). Made on first use; a change empties them.
        let derived = Mutex(DerivedForms())

        init(resource: EntityDescriptor, view: EntityView?) {
            self.resource = resource
            self.view = view
        }

        func copy() -> Storage {
            let copy = Storage(resource: resource, view: view)
            copy.conditions = conditions
            copy.viewConditions = viewConditions
            copy.viewMetaConditions = viewMetaConditions
            copy.limit = limit
            copy.offset = offset
            copy.order = order
            copy.select = select
            copy.add = add
            copy.rename = rename
            copy.distinct = distinct
            copy.search = search
            copy.regex = regex
            copy.unsafe = unsafe
            copy.safePost = safePost
            return copy
        }
    }

    private var storage: Storage

    /// The storage, made this query's own and without forms made from its old values: for a change.
    private mutating func changing() -> Storage {
        if !isKnownUniquelyReferenced(&storage) {
            storage = storage.copy()
        } else {
            storage.derived.withLock { $0 = DerivedForms() }
        }
        return storage
    }

    /// The meta-conditions, in the order the canonical form writes them.
    public static let metaConditionNames = [
        "limit", "offset", "order_asc", "order_desc", "select", "add", "rename", "distinct", "search", "search_regex", "unsafe",
        "safepost",
    ]

    init(uri: ResourceURI, resource: EntityDescriptor, view: EntityView? = nil) throws(SwitchboardError) {
        storage = Storage(resource: resource, view: view)
        if let view {
            let preset = try ResourceURI(parsing: "/_/\(view.conditions.isEmpty ? "_" : view.conditions)/\(view.metaConditions)")
            viewConditions = try preset.conditions.map { condition throws(SwitchboardError) in try Self.condition(condition, resource: resource) }
            try applyMetaConditions(preset.metaConditions)
            viewMetaConditions = metaConditions
        }
        for condition in uri.conditions {
            conditions.append(try Self.condition(condition, resource: resource))
        }
        try applyMetaConditions(uri.metaConditions)
    }

    /// Applies meta-conditions; each key may appear once (a view's are overridden).
    mutating func applyMetaConditions(_ metaConditions: [URICondition]) throws(SwitchboardError) {
        // Which meta-conditions were given, one bit each (both orders share one): no set to make for a query.
        var seen: UInt32 = 0
        for meta in metaConditions {
            let key = meta.key.lowercased()
            // For messages only: made when one is.
            var written: String { "\(meta.key)\(meta.op.rawValue)\(meta.value)" }
            guard let position = Self.metaConditionNames.firstIndex(of: key) else {
                throw SwitchboardError(
                    .badRequest, code: .invalidMetaCondition,
                    "Unknown meta-condition '\(meta.key)' in '\(written)'; the meta-conditions are \(Self.metaConditionNames.joined(separator: ", "))"
                )
            }
            guard meta.op == .equal else {
                throw SwitchboardError(
                    .badRequest, code: .invalidConditionOperator,
                    "Invalid operator '\(meta.op.rawValue)' in meta-condition '\(written)'; meta-conditions take '='")
            }
            let bit: UInt32 = 1 << (key == "order_desc" ? position - 1 : position)  // `order_asc` comes just before
            guard seen & bit == 0 else {
                throw SwitchboardError(
                    .badRequest, code: .invalidMetaCondition,
                    key.hasPrefix("order_")
                        ? "More than one order in '\(written)'; give one of order_asc and order_desc"
                        : "Meta-condition '\(key)' is given more than once")
            }
            seen |= bit
            let literal = PropertyLiteral(meta.value)
            let text: String
            if case .text(let value, _) = literal { text = value } else { text = "null" }
            func integer() throws(SwitchboardError) -> Int {
                guard let value = Int(text) else {
                    throw SwitchboardError(
                        .badRequest, code: .invalidMetaCondition, "Invalid value '\(meta.value)' for meta-condition '\(key)': expected an integer")
                }
                return value
            }
            func boolean() throws(SwitchboardError) -> Bool {
                guard let value = Bool(literal: text) else {
                    throw SwitchboardError(
                        .badRequest, code: .invalidMetaCondition, "Invalid value '\(meta.value)' for meta-condition '\(key)': expected true or false")
                }
                return value
            }
            func list() throws(SwitchboardError) -> [String] {
                let items = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingWhitespace() }
                if items.contains(where: \.isEmpty) {
                    throw SwitchboardError(
                        .badRequest, code: .invalidMetaCondition,
                        "Invalid value '\(meta.value)' for meta-condition '\(key)': expected a comma-separated list of property names")
                }
                return items
            }
            switch key {
            case "limit":
                let value = try integer()
                guard value >= -1 else {
                    throw SwitchboardError(
                        .badRequest, code: .invalidMetaCondition, "Invalid limit \(value): expected 0 or more (or -1 for no limit)")
                }
                limit = value == -1 ? nil : value
            case "offset": offset = try integer()
            case "order_asc", "order_desc":
                let fields = try resource.schema.resolve(text, resource: resource.name)
                try Self.requireComparable(fields, in: written)
                order = EntityOrder(path: fields.map(\.name), fields: fields, descending: key == "order_desc")
            case "select": select = try list()
            case "add":
                add = try list().map { item throws(SwitchboardError) in try resolveOutputPath(item, allowLength: true) }
            case "rename":
                rename = try list().map { item throws(SwitchboardError) in
                    let parts = item.components(separatedBy: "->")
                    guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                        throw SwitchboardError(
                            .badRequest, code: .invalidMetaCondition,
                            "Invalid rename '\(item)': expected <property>-><new name>, with '>' percent-encoded as %3E in URIs")
                    }
                    return (try resolveOutputPath(parts[0].trimmingWhitespace(), allowLength: true), parts[1].trimmingWhitespace())
                }
            case "distinct": distinct = try boolean()
            case "search":
                guard !text.isEmpty else {
                    throw SwitchboardError(.badRequest, code: .invalidMetaCondition, "Meta-condition 'search' needs a text to search for")
                }
                search = text
            case "search_regex":
                guard !text.isEmpty else {
                    throw SwitchboardError(.badRequest, code: .invalidMetaCondition, "Meta-condition 'search_regex' needs a regular expression")
                }
                regex = try LinearRegex(text)
            case "safepost":
                safePost = try list().map { name throws(SwitchboardError) in
                    let fields = try resource.schema.resolve(name, resource: resource.name)
                    try Self.requireComparable(fields, in: written)
                    return fields
                }
            default: unsafe = try boolean()
            }
        }
        if let written = select {
            select = try written.map { name throws(SwitchboardError) in
                if let target = rename.first(where: { $0.to.lowercased() == name.lowercased() }) { return target.to }
                if let added = add.first(where: { $0.lowercased() == name.lowercased() }) { return added }
                let path = try resolveOutputPath(name, allowLength: true)
                if rename.contains(where: { $0.from.lowercased() == path.lowercased() }) {
                    throw SwitchboardError(
                        .badRequest, code: .invalidMetaCondition,
                        "'select' names '\(name)', which 'rename' renamed; select the new name instead")
                }
                return path
            }
        }
    }

    /// Resolves a dotted path to declared casing; a trailing `Length` is allowed on strings and arrays.
    func resolveOutputPath(_ path: String, allowLength: Bool) throws(SwitchboardError) -> String {
        let parts = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if allowLength, parts.count > 1, parts.last?.lowercased() == "length" {
            let fields = try resource.schema.resolve(parts.dropLast().joined(separator: "."), resource: resource.name)
            switch fields.last?.type {
            case .string, .array, .json: return (fields.map(\.name) + ["Length"]).joined(separator: ".")
            default: break
            }
        }
        return try resource.schema.resolve(path, resource: resource.name).map(\.name).joined(separator: ".")
    }

    static func requireComparable(_ fields: [EntityField], in written: String) throws(SwitchboardError) {
        guard let last = fields.last else { return }
        switch last.type {
        case .object, .array:
            throw SwitchboardError(
                .badRequest, code: .invalidConditionValue,
                "'\(fields.map(\.name).joined(separator: "."))' in '\(written)' is \(last.type.name == "Object" ? "an object" : "an array") and cannot be compared; name one of its properties with a dot"
            )
        default: break
        }
    }

    static func condition(_ condition: URICondition, resource: EntityDescriptor) throws(SwitchboardError) -> EntityCondition {
        // For messages only: made when one is.
        var written: String { "\(condition.key)\(condition.op.rawValue)\(condition.value)" }
        let fields: [EntityField]
        do {
            fields = try resource.schema.resolve(condition.key, resource: resource.name)
        } catch var error {
            // `/superhero/limit=2` is a common slip: say where a meta-condition goes.
            if error.code == .unknownProperty, metaConditionNames.contains(condition.key.lowercased()) {
                error.message += "; \(condition.key) is a meta-condition and goes after the conditions, as in /\(resource.name)//\(written)"
            }
            throw error
        }
        try requireComparable(fields, in: written)
        let type = fields.last!.type
        guard let value = EntityValue(literal: PropertyLiteral(condition.value), as: type) else {
            throw SwitchboardError(
                .badRequest, code: .invalidConditionValue,
                "Invalid value '\(condition.value)' in condition '\(written)' on resource '\(resource.name)': '\(fields.map(\.name).joined(separator: "."))' is \(type.name), expected \(type.expectation)"
            )
        }
        return EntityCondition(path: fields.map(\.name), fields: fields, op: condition.op, value: value)
    }

    // MARK: Canonical form

    /// The meta-conditions in canonical form and order.
    var metaConditions: [URICondition] { metaConditions(QueryPaging(limit: limit, offset: offset)) }

    /// The meta-conditions in canonical form and order, with `paging` for the query's own limit and offset.
    private func metaConditions(_ paging: QueryPaging) -> [URICondition] {
        var result: [URICondition] = []
        result.reserveCapacity(4)
        if let limit = paging.limit { result.append(URICondition(key: "limit", op: .equal, value: String(limit))) }
        if paging.offset != 0 { result.append(URICondition(key: "offset", op: .equal, value: String(paging.offset))) }
        if let order {
            result.append(URICondition(key: order.descending ? "order_desc" : "order_asc", op: .equal, value: order.dottedPath))
        }
        if let select { result.append(URICondition(key: "select", op: .equal, value: select.joined(separator: ","))) }
        if !add.isEmpty { result.append(URICondition(key: "add", op: .equal, value: add.joined(separator: ","))) }
        if !rename.isEmpty {
            result.append(URICondition(key: "rename", op: .equal, value: rename.map { "\($0.from)->\($0.to)" }.joined(separator: ",")))
        }
        if distinct { result.append(URICondition(key: "distinct", op: .equal, value: "true")) }
        if let search { result.append(URICondition(key: "search", op: .equal, value: search)) }
        if let regex { result.append(URICondition(key: "search_regex", op: .equal, value: regex.pattern)) }
        if unsafe { result.append(URICondition(key: "unsafe", op: .equal, value: "true")) }
        if let safePost {
            result.append(
                URICondition(key: "safepost", op: .equal, value: safePost.map { $0.map(\.name).joined(separator: ".") }.joined(separator: ",")))
        }
        return result
    }

    /// The canonical URI: full resource name (and view), declared property casing, typed values, `_` for
    /// empty parts. What a view implies is left out.
    public var canonical: String {
        if let made = storage.derived.withLock({ $0.canonical }) { return made }
        let made = makeCanonical()
        storage.derived.withLock { $0.canonical = made }
        return made
    }

    /// The canonical forms of the previous and the next page (``previousPage(size:)``, ``nextPage(size:)``),
    /// made once for the query and its unchanged copies.
    var pageLinkTexts: PageLinks {
        if let made = storage.derived.withLock({ $0.pageLinks }) { return made }
        // Written from this query with the pages' limits and offsets: no copy of it is made for either.
        let made = PageLinks(previous: previousPaging().map { makeCanonical($0) }, next: nextPaging().map { makeCanonical($0) })
        storage.derived.withLock { $0.pageLinks = made }
        return made
    }

    /// The canonical form of this query, or of this query with another page's limit and offset.
    private func makeCanonical(_ paging: QueryPaging? = nil) -> String {
        let paging = paging ?? QueryPaging(limit: limit, offset: offset)
        var metas = metaConditions(paging)
        let implied = viewMetaConditions
        if !implied.isEmpty {
            metas.removeAll { implied.contains($0) }
            if paging.limit == nil, implied.contains(where: { $0.key == "limit" }) {
                metas.insert(URICondition(key: "limit", op: .equal, value: "-1"), at: 0)
            }
        }
        return ResourceURI(
            resourceName: resource.name + (view.map { "-" + $0.name } ?? ""), conditions: conditions.map(\.uriCondition),
            metaConditions: metas
        ).description
    }

    /// The view's conditions and the URI's: all must hold.
    var allConditions: [EntityCondition] { viewConditions + conditions }

    // MARK: Evaluation

    /// The ordering and paging a resource may take over for this query, if any.
    var pushablePaging: EntityPaging? {
        guard search == nil, regex == nil, !distinct, offset >= 0 else { return nil }
        return EntityPaging(order: order, offset: offset, limit: limit)
    }

    /// Whether an entity (in client JSON form) meets the conditions.
    func meetsConditions(_ row: JSONObject) -> Bool {
        allConditions.allSatisfy { $0.matches(entity: row) }
    }

    /// Whether a value anywhere in the entity matches `search_regex` (text as it is, other values as JSON).
    func meetsRegex(_ row: JSONObject) throws -> Bool {
        guard let regex else { return true }
        func matches(_ json: JSON) throws -> Bool {
            switch json {
            case .string(let text): try regex.matches(text)
            case .array(let elements): try elements.contains(where: matches)
            case .object(let object): try object.members.contains { try matches($0.value) }
            default: try regex.matches(json.compact)
            }
        }
        return try matches(.object(row))
    }

    /// Whether a value anywhere in the entity contains the search text, ignoring case.
    func meetsSearch(_ row: JSONObject) -> Bool {
        guard let search else { return true }
        let needle = search.lowercased()
        func contains(_ json: JSON) -> Bool {
            switch json {
            case .null: "null".contains(needle)
            case .string(let text): text.lowercased().contains(needle)
            case .array(let elements): elements.contains(where: contains)
            case .object(let object): object.members.contains { contains($0.value) }
            default: json.compact.lowercased().contains(needle)
            }
        }
        return contains(.object(row))
    }

    /// The indices of the selected rows, filtered, ordered and paged as far as the resource did not.
    func selectIndices(_ selection: ErasedSelection, paging: Bool) async throws -> [Int] {
        var indices: [Int] = []
        indices.reserveCapacity(selection.rows.count)
        var progress = QueryProgress()
        try await progress.forEachBatch(of: selection.rows.indices) { batch in
            try collectSelected(selection.rows, in: batch, checkingConditions: !selection.appliedConditions, into: &indices)
            return true
        }
        guard !selection.appliedPaging else { return indices }
        if let order { indices = order.sorted(indices) { selection.rows[$0] } }
        return paging ? page(indices) : indices
    }

    /// Appends the positions of the rows in `range` that meet the conditions (when the resource did not apply
    /// them), the search and the regex.
    private func collectSelected(_ rows: SelectedRows, in range: Range<Int>, checkingConditions: Bool, into indices: inout [Int]) throws {
        for index in range {
            let row = rows[index]
            if checkingConditions && !meetsConditions(row) { continue }
            if search != nil && !meetsSearch(row) { continue }
            if regex != nil, try !meetsRegex(row) { continue }
            indices.append(index)
        }
    }

    func page<T>(_ items: [T]) -> [T] {
        var result: ArraySlice<T>
        if offset >= 0 {
            result = items.dropFirst(min(offset, items.count))
        } else {
            result = items.suffix(offset == Int.min ? 0 : min(-offset, items.count))
        }
        if let limit { result = result.prefix(limit) }
        return Array(result)
    }

    /// The output objects for the selected rows: projected, de-duplicated and paged.
    func output(_ selection: ErasedSelection) async throws -> [JSON] {
        var progress = QueryProgress()
        if distinct {
            var unique: [JSON] = []
            var seen = Set<JSON>()
            for index in try await selectIndices(selection, paging: false) {
                try await progress.advance()
                let projected = project(selection.rows[index])
                if seen.insert(projected).inserted { unique.append(projected) }
            }
            return page(unique)
        }
        let indices = try await selectIndices(selection, paging: true)
        var rows: [JSON] = []
        rows.reserveCapacity(indices.count)
        for index in indices {
            try await progress.advance()
            rows.append(project(selection.rows[index]))
        }
        return rows
    }

    /// Applies add, rename and select to one entity.
    func project(_ row: JSONObject) -> JSON {
        guard !add.isEmpty || !rename.isEmpty || select != nil else { return .object(row) }
        var object = row
        for path in add { object[path] = Self.value(at: path, in: object) }
        for (from, to) in rename {
            let value = Self.value(at: from, in: object)
            if let position = object.members.firstIndex(where: { $0.key.lowercased() == from.lowercased() }) {
                var members = object.members
                members[position] = (to, value)
                object = JSONObject(members)
            } else {
                object[to] = value
            }
        }
        if let select {
            return .object(
                JSONObject(
                    select.map { name in
                        let key = object.members.first { $0.key.lowercased() == name.lowercased() }?.key ?? name
                        return (key, Self.value(at: name, in: object))
                    }))
        }
        return .object(object)
    }

    /// The value at an output path: a member (possibly with dots in its name), a nested member, or `Length`.
    static func value(at path: String, in object: JSONObject) -> JSON {
        if let direct = object.member(named: path) { return direct }
        let parts = path.split(separator: ".").map(String.init)
        if parts.count > 1, parts.last?.lowercased() == "length" {
            switch value(at: parts.dropLast().joined(separator: "."), in: object) {
            case .string(let text): return .int(text.count)
            case .array(let elements): return .int(elements.count)
            default: break
            }
        }
        return object.value(at: parts) ?? .null
    }
}

/// The canonical forms of a query's neighbouring pages.
struct PageLinks: Sendable {
    let previous: String?
    let next: String?
}

/// What is made from an ``EntityQuery`` on first use: its canonical form and its page links.
private struct DerivedForms {
    var canonical: String?
    var pageLinks: PageLinks?
}
