#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import NIOCore
import Synchronization
import SQLiteNIO
import SwitchboardCore
public import Switchboard

/// An entity resource stored in an SQLite table: embedded, nothing to install, one file.
///
/// Each top-level property is a column (`Bool` and `Int` as INTEGER, `Double` and `Date` as REAL, `String`
/// as TEXT, nested objects and arrays as JSON text). Conditions on top-level properties, the order and
/// limit/offset are pushed down into the SQL; conditions on nested properties and the other
/// meta-conditions are applied by Switchboard.
///
/// ```swift
/// let heroes = try await SQLiteEntityStore<Superhero>.open(path: "data/switchboard.sqlite", seed: Superhero.samples)
/// api.register(resource: heroes)
/// ```
/// The table is created on first use (and seeded then), and columns for new properties are added later.
public final class SQLiteEntityStore<Entity: Codable & Sendable>: EntityResource, Sendable {
    public let resourceName: String
    public let resourceDescription: String?
    public let operations: EntityOperations
    public let views: [EntityView]
    /// The table's name.
    public let table: String
    private let codec: EntityCodec<Entity>
    private let connection: SQLiteConnection
    private let writes = AsyncLock()
    private let closed = Mutex<Bool>(false)

    private init(
        connection: SQLiteConnection, table: String, name: String, description: String?, operations: EntityOperations,
        views: [EntityView], codec: EntityCodec<Entity>
    ) {
        self.views = views
        self.connection = connection
        self.table = table
        self.resourceName = name
        self.resourceDescription = description
        self.operations = operations
        self.codec = codec
    }

    /// Opens (and if needed creates) the store.
    /// - Parameters:
    ///   - path: The database file; `nil` keeps the database in memory.
    ///   - table: The table name (default: the entity type's name).
    ///   - name: The full resource name (default: the module-qualified entity type name).
    ///   - description: What it holds.
    ///   - operations: What clients may do (default: everything).
    ///   - views: Named presets of conditions and meta-conditions (`/<resource>-<view>`).
    ///   - seed: Entities inserted when the table is created.
    public static func open(
        path: String?, table: String? = nil, name: String? = nil, description: String? = nil,
        operations: EntityOperations = .all, views: [EntityView] = [], seed: [Entity] = []
    ) async throws -> SQLiteEntityStore<Entity> {
        let resource = name ?? String(reflecting: Entity.self)
        let codec = try EntityCodec<Entity>(resource: resource)
        let connection = try await SQLiteConnection.open(
            storage: path.map { .file(path: $0) } ?? .memory, logger: Logger(label: "switchboard.sqlite"))
        let store = SQLiteEntityStore(
            connection: connection, table: table ?? String(describing: Entity.self), name: resource,
            description: description, operations: operations, views: views, codec: codec)
        do {
            try await store.prepareTable(seed: seed)
        } catch {
            try? await connection.close()
            throw error
        }
        return store
    }

    /// Closes the database connection; the store cannot be used afterwards. A store that is released
    /// without this closes its connection in the background.
    public func close() async throws {
        let wasClosed = closed.withLock { closed in
            defer { closed = true }
            return closed
        }
        guard !wasClosed else { return }
        try await connection.close()
    }

    deinit {
        // Never leave the file open; but never close twice: sqlite-nio's close dereferences the handle.
        guard !closed.withLock({ $0 }) else { return }
        let closing: EventLoopFuture<Void> = connection.close()
        _ = closing
    }

    private var fields: [EntityField] { codec.schema.fields }

    static func quote(_ identifier: String) -> String { SQLText.quote(identifier) }

    static func columnType(_ type: EntityFieldType) -> String {
        switch type {
        case .bool, .int: "INTEGER"
        case .double, .date: "REAL"
        case .string: "TEXT"
        case .object, .array, .json: "TEXT"
        }
    }

    private func prepareTable(seed: [Entity]) async throws {
        let existing = try await connection.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", [.text(table)])
        if existing.isEmpty {
            let columns = fields.map { "\(Self.quote($0.name)) \(Self.columnType($0.type))" }.joined(separator: ", ")
            _ = try await connection.query("CREATE TABLE \(Self.quote(table)) (\(columns))")
            if !seed.isEmpty { _ = try await insert(seed, caller: RESTCaller()) }
            return
        }
        let info = try await connection.query("PRAGMA table_info(\(Self.quote(table)))")
        let present = Set(info.compactMap { $0.column("name")?.string?.lowercased() })
        for field in fields where !present.contains(field.name.lowercased()) {
            _ = try await connection.query(
                "ALTER TABLE \(Self.quote(table)) ADD COLUMN \(Self.quote(field.name)) \(Self.columnType(field.type))")
        }
    }

    // MARK: Values

    /// The SQL value of a property, from the entity's JSON form.
    func sqlValue(_ json: JSON?, _ type: EntityFieldType) -> SQLiteData {
        guard let json, json != .null else { return .null }
        switch type {
        case .object, .array, .json: return .text(json.compact)
        default: return sqlValue(EntityValue(json: json, as: type) ?? .null)
        }
    }

    func sqlValue(_ value: EntityValue) -> SQLiteData {
        switch value {
        case .null: .null
        case .bool(let flag): .integer(flag ? 1 : 0)
        case .int(let number): .integer(number)
        case .double(let number): .float(number)
        case .string(let text): .text(text)
        case .date(let date): .float(date.timeIntervalSince1970)
        }
    }

    /// The JSON form of a column value.
    func json(_ data: SQLiteData, _ type: EntityFieldType) -> JSON {
        if data.isNull { return .null }
        switch type {
        case .bool: return .bool((data.integer ?? 0) != 0)
        case .int: return data.integer.map(JSON.int) ?? .null
        case .double: return data.double.map(JSON.double) ?? .null
        case .string: return data.string.map(JSON.string) ?? .null
        case .date: return data.double.map { EntityValue.date(Date(timeIntervalSince1970: $0)).json } ?? .null
        case .object, .array, .json: return data.string.flatMap { try? JSON(parsing: $0, maxDepth: 512) } ?? .null
        }
    }

    func entity(from row: SQLiteRow) throws -> Entity {
        try codec.decode { field in json(row.column(field.name) ?? .null, field.type) }
    }

    var columnList: String { fields.map { Self.quote($0.name) }.joined(separator: ", ") }

    // MARK: Operations

    /// A condition in SQL, when it can be pushed down: a top-level scalar property.
    func sql(_ condition: EntityCondition) -> (String, [SQLiteData])? {
        guard condition.fields.count == 1, let field = condition.fields.first, field.type.isScalar else { return nil }
        let column = Self.quote(field.name)
        let value = sqlValue(condition.value)
        switch condition.op {
        case .equal: return ("\(column) IS ?", [value])
        case .notEqual: return ("\(column) IS NOT ?", [value])
        default:
            if condition.value == .null { return ("0", []) }
            return ("\(column) \(condition.op.rawValue) ?", [value])
        }
    }

    public func select(_ request: EntitySelectRequest) async throws -> EntitySelection<Entity> {
        var clauses: [String] = []
        var binds: [SQLiteData] = []
        var allPushed = true
        for condition in request.conditions {
            if let (clause, values) = sql(condition) {
                clauses.append(clause)
                binds += values
            } else {
                allPushed = false
            }
        }
        var statement = "SELECT \(columnList) FROM \(Self.quote(table))"
        if !clauses.isEmpty { statement += " WHERE " + clauses.joined(separator: " AND ") }
        var paged = false
        if allPushed, let paging = request.paging, paging.order.map({ $0.fields.count == 1 && $0.fields[0].type.isScalar }) ?? true {
            if let order = paging.order {
                statement += " ORDER BY \(Self.quote(order.fields[0].name)) \(order.descending ? "DESC" : "ASC"), rowid ASC"
            } else {
                statement += " ORDER BY rowid ASC"
            }
            statement += " LIMIT ? OFFSET ?"
            binds += [.integer(paging.limit ?? -1), .integer(paging.offset)]
            paged = true
        } else {
            statement += " ORDER BY rowid ASC"
        }
        let rows = try await connection.query(statement, binds)
        var entities: [Entity] = []
        entities.reserveCapacity(rows.count)
        var progress = QueryProgress()
        for row in rows {
            try await progress.advance()
            entities.append(try entity(from: row))
        }
        return EntitySelection(entities: entities, appliedConditions: allPushed, appliedPaging: paged)
    }

    public func insert(_ entities: [Entity], caller: RESTCaller) async throws -> [Entity] {
        let rows = try entities.map { entity in try codec.encode(entity) }
        let placeholders = Array(repeating: "?", count: fields.count).joined(separator: ", ")
        let statement = "INSERT INTO \(Self.quote(table)) (\(columnList)) VALUES (\(placeholders))"
        try await transaction {
            for row in rows {
                _ = try await self.connection.query(statement, self.fields.map { self.sqlValue(row.value(at: [$0.name]), $0.type) })
            }
        }
        return entities
    }

    /// `WHERE` for the first stored row equal to an entity.
    func match(_ row: JSONObject) -> (String, [SQLiteData]) {
        let clauses = fields.map { "\(Self.quote($0.name)) IS ?" }.joined(separator: " AND ")
        return (
            "rowid = (SELECT rowid FROM \(Self.quote(table)) WHERE \(clauses) LIMIT 1)",
            fields.map { sqlValue(row.value(at: [$0.name]), $0.type) }
        )
    }

    public func update(_ updates: [EntityUpdate<Entity>], caller: RESTCaller) async throws -> [Entity] {
        let pairs = try updates.map { (old: try codec.encode($0.old), new: try codec.encode($0.new), entity: $0.new) }
        let assignments = fields.map { "\(Self.quote($0.name)) = ?" }.joined(separator: ", ")
        return try await transaction {
            var updated: [Entity] = []
            for pair in pairs {
                let (clause, binds) = self.match(pair.old)
                let values = self.fields.map { self.sqlValue(pair.new.value(at: [$0.name]), $0.type) }
                let rows = try await self.connection.query(
                    "UPDATE \(Self.quote(self.table)) SET \(assignments) WHERE \(clause) RETURNING rowid", values + binds)
                if !rows.isEmpty { updated.append(pair.entity) }
            }
            return updated
        }
    }

    public func delete(_ entities: [Entity], caller: RESTCaller) async throws -> Int {
        let rows = try entities.map { try codec.encode($0) }
        return try await transaction {
            var deleted = 0
            for row in rows {
                let (clause, binds) = self.match(row)
                deleted += try await self.connection.query(
                    "DELETE FROM \(Self.quote(self.table)) WHERE \(clause) RETURNING rowid", binds
                ).count
            }
            return deleted
        }
    }

    /// Runs writes in one transaction, one transaction at a time.
    private func transaction<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await writes.withLock {
            _ = try await self.connection.query("BEGIN IMMEDIATE")
            do {
                let result = try await body()
                _ = try await self.connection.query("COMMIT")
                return result
            } catch {
                _ = try? await self.connection.query("ROLLBACK")
                throw error
            }
        }
    }
}
