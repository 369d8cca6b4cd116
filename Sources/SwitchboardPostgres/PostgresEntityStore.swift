#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
public import Logging
public import PostgresNIO
public import Switchboard
import SwitchboardCore

/// An entity resource stored in a PostgreSQL table, shared by every instance that uses the same database.
///
/// Each top-level property is a column (`Bool` as `boolean`, `Int` as `bigint`, `Double` and `Date` as
/// `double precision` (a date as seconds since 1970, so that milliseconds come back exactly), `String` as
/// `text COLLATE "C"` (byte order, like the other stores), nested objects and arrays as JSON text), with a
/// hidden `_sb_row` column that keeps the order of insertion. Conditions on top-level properties, the order,
/// and limit/offset are pushed down into the SQL; conditions on nested properties and the other
/// meta-conditions are applied by Switchboard, as with `SQLiteEntityStore`. Writes run in transactions.
///
/// The store uses a `PostgresClient` (a connection pool) that the application runs:
///
/// ```swift
/// let client = PostgresClient(configuration: try PostgresEntityStore<Superhero>.configuration(url: "postgres://app:secret@127.0.0.1/app"))
/// let running = Task { await client.run() }
/// let heroes = try await PostgresEntityStore<Superhero>.open(client: client, seed: Superhero.samples)
/// api.register(resource: heroes)
/// ```
/// The table is created on first use and seeded then (once, whichever instance comes first), and columns
/// for new properties are added later.
public final class PostgresEntityStore<Entity: Codable & Sendable>: EntityResource, Sendable {
    public let resourceName: String
    public let resourceDescription: String?
    public let operations: EntityOperations
    public let views: [EntityView]
    /// The table's name.
    public let table: String
    private let codec: EntityCodec<Entity>
    private let client: PostgresClient
    private let logger: Logger

    private init(
        client: PostgresClient, table: String, name: String, description: String?, operations: EntityOperations, views: [EntityView],
        codec: EntityCodec<Entity>, logger: Logger
    ) {
        self.client = client
        self.table = table
        self.resourceName = name
        self.resourceDescription = description
        self.operations = operations
        self.views = views
        self.codec = codec
        self.logger = logger
    }

    /// Opens (and if needed creates) the store's table.
    /// - Parameters:
    ///   - client: A client that runs (`client.run()` in a task or a service group) as long as the store is used.
    ///   - table: The table name (default: the entity type's name).
    ///   - name: The full resource name (default: the module-qualified entity type name).
    ///   - description: What it holds.
    ///   - operations: What clients may do (default: everything).
    ///   - views: Named presets of conditions and meta-conditions (`/<resource>-<view>`).
    ///   - seed: Entities inserted when the table is created.
    ///   - logger: Where the database's errors are logged.
    public static func open(
        client: PostgresClient, table: String? = nil, name: String? = nil, description: String? = nil, operations: EntityOperations = .all,
        views: [EntityView] = [], seed: [Entity] = [], logger: Logger = Logger(label: "switchboard.postgres")
    ) async throws -> PostgresEntityStore<Entity> {
        let resource = name ?? String(reflecting: Entity.self)
        let store = PostgresEntityStore(
            client: client, table: table ?? String(describing: Entity.self), name: resource, description: description,
            operations: operations, views: views, codec: try EntityCodec<Entity>(resource: resource), logger: logger)
        try await store.prepareTable(seed: seed)
        return store
    }

    /// The client configuration of a `postgres://user:password@host:port/database` URL (`?sslmode=require` for TLS;
    /// without it the connection is not encrypted, which suits a database on the same machine or network only).
    public static func configuration(url: String) throws -> PostgresClient.Configuration {
        try PostgresDatabaseURL(url).clientConfiguration
    }

    private var fields: [EntityField] { codec.schema.fields }

    static func quote(_ identifier: String) -> String { SQLText.quote(identifier) }

    static func columnType(_ type: EntityFieldType) -> String {
        switch type {
        case .bool: "boolean"
        case .int: "bigint"
        case .double, .date: "double precision"
        case .string: "text COLLATE \"C\""
        case .object, .array, .json: "text"
        }
    }

    /// Creates the table if it is missing (seeded then) and adds columns for new properties, under a lock that
    /// makes instances starting together do it once.
    private func prepareTable(seed: [Entity]) async throws {
        let quoted = Self.quote(table)
        let columns = (["\"_sb_row\" bigserial PRIMARY KEY"] + fields.map { "\(Self.quote($0.name)) \(Self.columnType($0.type))" })
            .joined(separator: ", ")
        let rows = try seed.map { try codec.encode($0) }
        let fields = self.fields
        try await client.withTransaction(logger: logger) { connection in
            _ = try await connection.query(
                PostgresQuery(unsafeSQL: "SELECT pg_advisory_xact_lock(hashtext($1))", binds: Self.binds([.string(self.table)])), logger: self.logger)
            let existing = try await connection.query(
                PostgresQuery(
                    unsafeSQL: "SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1", binds: Self.binds([.string(self.table)])),
                logger: self.logger
            ).collect()
            if existing.isEmpty {
                _ = try await connection.query(PostgresQuery(unsafeSQL: "CREATE TABLE \(quoted) (\(columns))"), logger: self.logger)
                for row in rows { try await self.insert(row, on: connection) }
            } else {
                for field in fields {
                    _ = try await connection.query(
                        PostgresQuery(unsafeSQL: "ALTER TABLE \(quoted) ADD COLUMN IF NOT EXISTS \(Self.quote(field.name)) \(Self.columnType(field.type))"),
                        logger: self.logger)
                }
            }
        }
    }

    // MARK: Values

    /// A value to bind: the column types above.
    enum Bind {
        case null, bool(Bool), int(Int), double(Double), string(String)
    }

    static func binds(_ values: [Bind]) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: values.count)
        for value in values {
            switch value {
            case .null: bindings.appendNull()
            case .bool(let flag): bindings.append(flag)
            case .int(let number): bindings.append(number)
            case .double(let number): bindings.append(number)
            case .string(let text): bindings.append(text)
            }
        }
        return bindings
    }

    /// The bound value of a property, from the entity's JSON form.
    func bind(_ json: JSON?, _ type: EntityFieldType) -> Bind {
        guard let json, json != .null else { return .null }
        switch type {
        case .object, .array, .json: return .string(json.compact)
        default: return bind(EntityValue(json: json, as: type) ?? .null)
        }
    }

    func bind(_ value: EntityValue) -> Bind {
        switch value {
        case .null: .null
        case .bool(let flag): .bool(flag)
        case .int(let number): .int(number)
        case .double(let number): .double(number)
        case .string(let text): .string(text)
        case .date(let date): .double(date.timeIntervalSince1970)
        }
    }

    /// The JSON form of a column's value.
    func json(_ cell: PostgresCell, _ type: EntityFieldType) throws -> JSON {
        switch type {
        case .bool: return try cell.decode(Bool?.self).map(JSON.bool) ?? .null
        case .int: return try cell.decode(Int?.self).map(JSON.int) ?? .null
        case .double: return try cell.decode(Double?.self).map(JSON.double) ?? .null
        case .string: return try cell.decode(String?.self).map(JSON.string) ?? .null
        case .date: return try cell.decode(Double?.self).map { EntityValue.date(Date(timeIntervalSince1970: $0)).json } ?? .null
        case .object, .array, .json: return try cell.decode(String?.self).flatMap { try? JSON(parsing: $0, maxDepth: 512) } ?? .null
        }
    }

    func entity(from row: PostgresRow) throws -> Entity {
        let cells = row.makeRandomAccess()
        return try codec.decode { field in try json(cells[field.name], field.type) }
    }

    var columnList: String { fields.map { Self.quote($0.name) }.joined(separator: ", ") }

    // MARK: Operations

    /// A condition in SQL with its placeholders numbered from `first`, when it can be pushed down: a top-level
    /// scalar property.
    func sql(_ condition: EntityCondition, first: Int) -> (String, [Bind])? {
        guard condition.fields.count == 1, let field = condition.fields.first, field.type.isScalar else { return nil }
        let column = Self.quote(field.name)
        let value = bind(condition.value)
        switch condition.op {
        case .equal: return ("\(column) IS NOT DISTINCT FROM $\(first)", [value])
        case .notEqual: return ("\(column) IS DISTINCT FROM $\(first)", [value])
        default:
            if condition.value == .null { return ("false", []) }
            return ("\(column) \(condition.op.rawValue) $\(first)", [value])
        }
    }

    public func select(_ request: EntitySelectRequest) async throws -> EntitySelection<Entity> {
        var clauses: [String] = []
        var values: [Bind] = []
        var allPushed = true
        for condition in request.conditions {
            if let (clause, bound) = sql(condition, first: values.count + 1) {
                clauses.append(clause)
                values += bound
            } else {
                allPushed = false
            }
        }
        var statement = "SELECT \(columnList) FROM \(Self.quote(table))"
        if !clauses.isEmpty { statement += " WHERE " + clauses.joined(separator: " AND ") }
        var paged = false
        if allPushed, let paging = request.paging, paging.order.map({ $0.fields.count == 1 && $0.fields[0].type.isScalar }) ?? true {
            if let order = paging.order {
                // As in the other stores: null sorts below every value.
                let direction = order.descending ? "DESC NULLS LAST" : "ASC NULLS FIRST"
                statement += " ORDER BY \(Self.quote(order.fields[0].name)) \(direction), \"_sb_row\" ASC"
            } else {
                statement += " ORDER BY \"_sb_row\" ASC"
            }
            if let limit = paging.limit {
                statement += " LIMIT $\(values.count + 1)"
                values.append(.int(limit))
            }
            statement += " OFFSET $\(values.count + 1)"
            values.append(.int(paging.offset))
            paged = true
        } else {
            statement += " ORDER BY \"_sb_row\" ASC"
        }
        let rows = try await client.query(PostgresQuery(unsafeSQL: statement, binds: Self.binds(values)), logger: logger)
        var entities: [Entity] = []
        var progress = QueryProgress()
        for try await row in rows {
            try await progress.advance()
            entities.append(try entity(from: row))
        }
        return EntitySelection(entities: entities, appliedConditions: allPushed, appliedPaging: paged)
    }

    private func insert(_ row: JSONObject, on connection: PostgresConnection) async throws {
        let placeholders = (1...fields.count).map { "$\($0)" }.joined(separator: ", ")
        _ = try await connection.query(
            PostgresQuery(
                unsafeSQL: "INSERT INTO \(Self.quote(table)) (\(columnList)) VALUES (\(placeholders))",
                binds: Self.binds(fields.map { bind(row.value(at: [$0.name]), $0.type) })),
            logger: logger)
    }

    public func insert(_ entities: [Entity], caller: RESTCaller) async throws -> [Entity] {
        let rows = try entities.map { try codec.encode($0) }
        try await client.withTransaction(logger: logger) { connection in
            for row in rows { try await self.insert(row, on: connection) }
        }
        return entities
    }

    /// `WHERE` for the first stored row equal to an entity, its placeholders numbered from `first`.
    func match(_ row: JSONObject, first: Int) -> (String, [Bind]) {
        let clauses = fields.enumerated().map { "\(Self.quote($1.name)) IS NOT DISTINCT FROM $\(first + $0)" }.joined(separator: " AND ")
        return (
            "\"_sb_row\" = (SELECT \"_sb_row\" FROM \(Self.quote(table)) WHERE \(clauses) ORDER BY \"_sb_row\" LIMIT 1)",
            fields.map { bind(row.value(at: [$0.name]), $0.type) }
        )
    }

    public func update(_ updates: [EntityUpdate<Entity>], caller: RESTCaller) async throws -> [Entity] {
        let pairs = try updates.map { (old: try codec.encode($0.old), new: try codec.encode($0.new), entity: $0.new) }
        let assignments = fields.enumerated().map { "\(Self.quote($1.name)) = $\($0 + 1)" }.joined(separator: ", ")
        return try await client.withTransaction(logger: logger) { connection in
            var updated: [Entity] = []
            for pair in pairs {
                let (clause, matching) = self.match(pair.old, first: self.fields.count + 1)
                let values = self.fields.map { self.bind(pair.new.value(at: [$0.name]), $0.type) }
                let rows = try await connection.query(
                    PostgresQuery(
                        unsafeSQL: "UPDATE \(Self.quote(self.table)) SET \(assignments) WHERE \(clause) RETURNING \"_sb_row\"",
                        binds: Self.binds(values + matching)),
                    logger: self.logger
                ).collect()
                if !rows.isEmpty { updated.append(pair.entity) }
            }
            return updated
        }
    }

    public func delete(_ entities: [Entity], caller: RESTCaller) async throws -> Int {
        let rows = try entities.map { try codec.encode($0) }
        return try await client.withTransaction(logger: logger) { connection in
            var deleted = 0
            for row in rows {
                let (clause, matching) = self.match(row, first: 1)
                deleted += try await connection.query(
                    PostgresQuery(unsafeSQL: "DELETE FROM \(Self.quote(self.table)) WHERE \(clause) RETURNING \"_sb_row\"", binds: Self.binds(matching)),
                    logger: self.logger
                ).collect().count
            }
            return deleted
        }
    }
}

/// Why a PostgreSQL store could not be set up.
public enum PostgresStoreError: Error, CustomStringConvertible {
    /// The database URL is not one this store reads.
    case invalidURL(String)
    /// The database could not be reached in time, or refused the login.
    case unreachable(String)

    public var description: String {
        switch self {
        case .invalidURL(let reason), .unreachable(let reason): reason
        }
    }
}
