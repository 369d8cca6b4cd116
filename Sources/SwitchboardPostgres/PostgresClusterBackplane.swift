public import Logging
public import PostgresNIO
public import Switchboard
import SwitchboardCore

/// The instances of one system sharing a PostgreSQL database, with no broker besides it: messages go through
/// `LISTEN/NOTIFY` on one channel, and each instance's heartbeat and snapshots (its connections, its PTY
/// programs) through two tables, `switchboard_instance` and `switchboard_instance_snapshot`, created on first use.
///
/// ```swift
/// let database = try PostgresDatabaseURL(url)
/// let client = PostgresClient(configuration: database.clientConfiguration)
/// // run the client (client.run()) in a task or service group, then:
/// await api.join(cluster: try await PostgresClusterBackplane.open(client: client, database: database, instanceName: "eu-1"))
/// ```
///
/// Every instance listens on one connection of its own, closed when it leaves (queries go through the
/// client's pool). Sends go one at a time, each after the last
/// was taken, so that what an instance sends arrives everywhere in that order. A message holds at most
/// ``maxMessageBytes`` (PostgreSQL's limit is 8,000 bytes). An instance is alive while its heartbeat is
/// younger than ``livenessWindow`` by the database's clock, so the instances' clocks need not agree.
public final class PostgresClusterBackplane: ClusterBackplane {
    /// The most bytes one message may take.
    public static let messageLimit = 7_900
    public var maxMessageBytes: Int { Self.messageLimit }
    public let instanceName: String
    /// The notification channel (default `switchboard_cluster`).
    public let channel: String
    /// How long an instance stays listed after its last heartbeat (default 5 seconds).
    public let livenessWindow: Duration
    private let client: PostgresClient
    private let listener: PostgresConnection.Configuration
    private let logger: Logger
    private let sends = AsyncLock()

    private init(
        client: PostgresClient, listener: PostgresConnection.Configuration, instanceName: String, channel: String, livenessWindow: Duration,
        logger: Logger
    ) {
        self.client = client
        self.listener = listener
        self.instanceName = instanceName
        self.channel = channel
        self.livenessWindow = livenessWindow
        self.logger = logger
    }

    /// A backplane on a running client (`client.run()` in a task or service group); creates its tables if
    /// they are missing.
    /// - Parameters:
    ///   - client: The database's client.
    ///   - database: The database's URL, for the listening connection.
    ///   - instanceName: This instance's name, unique among the live instances (`serve --instance`).
    ///   - channel: The notification channel; instances on different channels are different systems.
    ///   - livenessWindow: How long an instance stays listed after its last heartbeat.
    ///   - logger: Where failures are logged.
    public static func open(
        client: PostgresClient, database: PostgresDatabaseURL, instanceName: String, channel: String = "switchboard_cluster",
        livenessWindow: Duration = .seconds(5), logger: Logger = Logger(label: "switchboard.cluster")
    ) async throws -> PostgresClusterBackplane {
        let backplane = PostgresClusterBackplane(
            client: client, listener: try database.connectionConfiguration(), instanceName: instanceName, channel: channel, livenessWindow: livenessWindow,
            logger: logger)
        try await backplane.prepareTables()
        return backplane
    }

    private func prepareTables() async throws {
        try await client.withTransaction(logger: logger) { connection in
            _ = try await connection.query("SELECT pg_advisory_xact_lock(hashtext('switchboard_instance'))", logger: self.logger)
            _ = try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS switchboard_instance (
                  name text PRIMARY KEY, heartbeat timestamptz NOT NULL, started timestamptz NOT NULL DEFAULT now(),
                  console_watchers integer NOT NULL DEFAULT 0)
                """, logger: self.logger)
            _ = try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS switchboard_instance_snapshot (
                  instance text NOT NULL REFERENCES switchboard_instance (name) ON DELETE CASCADE,
                  resource text NOT NULL, entities text NOT NULL, PRIMARY KEY (instance, resource))
                """, logger: self.logger)
        }
    }

    private var windowSeconds: Double { Double(livenessWindow.components.seconds) + Double(livenessWindow.components.attoseconds) / 1e18 }

    public func publish(_ message: String) async throws {
        guard message.utf8.count <= Self.messageLimit else {
            throw SwitchboardError(.contentTooLarge, code: .invalidInput, "The message is too long for the cluster: at most \(Self.messageLimit) bytes")
        }
        try await sends.withLock {
            _ = try await self.client.query("SELECT pg_notify(\(self.channel), \(message))", logger: self.logger).collect()
        }
    }

    public func receive(listening: @escaping @Sendable () -> Void, _ deliver: @escaping @Sendable (String) async -> Void) async throws {
        // A connection of its own rather than one of the pool: the pool does not take back a connection closed
        // under it, and closing is the sure way to end the notifications when the instance leaves.
        let connection = try await PostgresConnection.connect(configuration: listener, id: 0, logger: logger)
        do {
            try await withTaskCancellationHandler {
                // The driver runs LISTEN before it hands over the notifications.
                try await connection.listen(on: self.channel) { notifications in
                    listening()
                    for try await notification in notifications { await deliver(notification.payload) }
                }
            } onCancel: {
                connection.close().whenComplete { _ in }
            }
        } catch {
            try? await connection.close()
            throw error
        }
        try? await connection.close()
    }

    public func heartbeat(consoleWatchers: Int, snapshots: [String: String]) async throws -> [ClusterInstance] {
        let window = windowSeconds
        return try await client.withTransaction(logger: logger) { connection in
            _ = try await connection.query(
                """
                INSERT INTO switchboard_instance (name, heartbeat, console_watchers) VALUES (\(self.instanceName), now(), \(consoleWatchers))
                ON CONFLICT (name) DO UPDATE SET heartbeat = now(), console_watchers = excluded.console_watchers
                """, logger: self.logger)
            for (resource, entities) in snapshots {
                _ = try await connection.query(
                    """
                    INSERT INTO switchboard_instance_snapshot (instance, resource, entities) VALUES (\(self.instanceName), \(resource), \(entities))
                    ON CONFLICT (instance, resource) DO UPDATE SET entities = excluded.entities
                    """, logger: self.logger)
            }
            // Instances gone for an hour are forgotten, with their snapshots.
            _ = try await connection.query("DELETE FROM switchboard_instance WHERE heartbeat < now() - interval '1 hour'", logger: self.logger)
            var others: [ClusterInstance] = []
            let rows = try await connection.query(
                """
                SELECT name, console_watchers FROM switchboard_instance
                WHERE name <> \(self.instanceName) AND heartbeat > now() - make_interval(secs => \(window)) ORDER BY name
                """, logger: self.logger)
            for try await (name, watchers) in rows.decode((String, Int32).self) {
                others.append(ClusterInstance(name: name, consoleWatchers: Int(watchers)))
            }
            return others
        }
    }

    public func snapshots(of resource: String) async throws -> [ClusterSnapshot] {
        let rows = try await client.query(
            """
            SELECT s.instance, s.entities FROM switchboard_instance_snapshot s JOIN switchboard_instance i ON i.name = s.instance
            WHERE s.resource = \(resource) AND s.instance <> \(instanceName) AND i.heartbeat > now() - make_interval(secs => \(windowSeconds))
            ORDER BY s.instance
            """, logger: logger)
        var snapshots: [ClusterSnapshot] = []
        for try await (instance, entities) in rows.decode((String, String).self) {
            snapshots.append(ClusterSnapshot(instance: instance, entities: entities))
        }
        return snapshots
    }

    public func remove() async throws {
        _ = try await client.query("DELETE FROM switchboard_instance WHERE name = \(instanceName)", logger: logger)
    }
}
