#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
public import Logging
public import PostgresNIO
public import Switchboard
import SwitchboardCore

/// The instances of one system talking over PostgreSQL's `LISTEN/NOTIFY`: no broker besides the database they
/// share. Join an API to it (`api.join(cluster: PostgresClusterBus(client: client))`) and group broadcasts
/// (`api.broadcast(_:toGroup:of:except:)`, the `ChatRoom` sample) reach the members on every instance.
///
/// Every instance listens on one connection of the client's pool; sends go one at a time, each after the last
/// was taken, so that what an instance sends arrives everywhere in that order. A payload holds at most
/// ``maxPayloadBytes`` (PostgreSQL's limit is 8,000 bytes).
public final class PostgresClusterBus: ClusterBus {
    /// The most bytes one message may take.
    public static let maxPayloadBytes = 7_900
    /// This instance's id: random, so that a restarted instance is a new one.
    public let instanceID: String
    /// The notification channel (default `switchboard_bus`).
    public let channel: String
    private let client: PostgresClient
    private let logger: Logger
    private let sends = AsyncLock()

    /// A bus on a running client (`client.run()` in a task or service group).
    public init(client: PostgresClient, channel: String = "switchboard_bus", logger: Logger = Logger(label: "switchboard.cluster")) {
        self.client = client
        self.channel = channel
        self.logger = logger
        instanceID = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    }

    public func publish(_ payload: String) async throws {
        guard payload.utf8.count <= Self.maxPayloadBytes else {
            throw SwitchboardError(
                .contentTooLarge, code: .invalidInput, "The message is too long for the cluster: at most \(Self.maxPayloadBytes) bytes, with its envelope")
        }
        var binds = PostgresBindings(capacity: 2)
        binds.append(channel)
        binds.append(payload)
        let query = PostgresQuery(unsafeSQL: "SELECT pg_notify($1, $2)", binds: binds)
        try await sends.withLock { _ = try await self.client.query(query, logger: self.logger).collect() }
    }

    public func run(deliver: @escaping @Sendable (String) async -> Void) async throws {
        try await client.withConnection { connection in
            try await connection.listen(on: self.channel) { notifications in
                for try await notification in notifications { await deliver(notification.payload) }
            }
        }
    }
}
