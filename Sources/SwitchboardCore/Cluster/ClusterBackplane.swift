/// What the instances of one system share, so that they act as one (``SwitchboardAPI/join(cluster:)``): a
/// channel that carries messages to every instance, and a place where each instance says that it is alive and
/// what it holds (its connections, its PTY programs). `SwitchboardPostgres` has one on PostgreSQL
/// (`PostgresClusterBackplane`: `LISTEN/NOTIFY` and two tables), so a system needs no broker besides its database.
///
/// Switchboard calls ``heartbeat(consoleWatchers:snapshots:)`` about once a second; an instance whose heartbeat
/// is older than the backplane's liveness window (a few seconds) is gone: the others stop listing what it held.
public protocol ClusterBackplane: Sendable {
    /// This instance's name, unique among the live instances of the system: the `Instance` column of
    /// cluster-wide listings, and the address of requests sent to it.
    var instanceName: String { get }
    /// The most UTF-8 bytes one message may have.
    var maxMessageBytes: Int { get }
    /// Sends a message to every instance, this one included. What one instance sends arrives everywhere in
    /// the order it was sent.
    func publish(_ message: String) async throws
    /// Receives the messages of every instance, in order, calling `deliver` for each, until the task is
    /// cancelled; calls `listening` once messages sent from then on will arrive. Switchboard calls it when it
    /// joins, and again if it fails.
    func receive(listening: @escaping @Sendable () -> Void, _ deliver: @escaping @Sendable (String) async -> Void) async throws
    /// Says that this instance is alive, with the number of consoles that watch the whole system from it and
    /// the snapshots that changed since the last heartbeat (resource name → a JSON array of its entities).
    /// - Returns: The other instances that are alive.
    func heartbeat(consoleWatchers: Int, snapshots: [String: String]) async throws -> [ClusterInstance]
    /// The latest snapshots of a resource on the other live instances.
    func snapshots(of resource: String) async throws -> [ClusterSnapshot]
    /// Removes this instance and what it shared (when it stops).
    func remove() async throws
}

/// Another live instance of the system, as its last heartbeat described it.
public struct ClusterInstance: Sendable, Equatable {
    /// Its name (``ClusterBackplane/instanceName``).
    public var name: String
    /// How many of its consoles watch the whole system.
    public var consoleWatchers: Int

    public init(name: String, consoleWatchers: Int) {
        self.name = name
        self.consoleWatchers = consoleWatchers
    }
}

/// What one instance holds of one resource, as it last said.
public struct ClusterSnapshot: Sendable, Equatable {
    /// The instance's name.
    public var instance: String
    /// Its entities, as a JSON array.
    public var entities: String

    public init(instance: String, entities: String) {
        self.instance = instance
        self.entities = entities
    }
}
