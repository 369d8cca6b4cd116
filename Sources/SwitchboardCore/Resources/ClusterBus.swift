import Logging
import Synchronization

/// Carries messages between the instances of one system, so that a broadcast group spans them
/// (``SwitchboardAPI/join(cluster:)``). `SwitchboardPostgres` has one on PostgreSQL's `LISTEN/NOTIFY`.
public protocol ClusterBus: Sendable {
    /// This instance's id, unique among the instances.
    var instanceID: String { get }
    /// Sends a payload to every instance, this one included; the payloads of one instance arrive everywhere in
    /// the order it sent them.
    func publish(_ payload: String) async throws
    /// Receives the payloads of every instance and calls `deliver` for each, until the task is cancelled.
    func run(deliver: @escaping @Sendable (String) async -> Void) async throws
}

/// A terminal that belongs to broadcast groups by name (a chat room's): ``SwitchboardAPI/broadcast(_:toGroup:of:except:)``
/// reaches the members of a group on this instance, and on every instance of the system once the API has joined a
/// cluster.
///
/// ```swift
/// public actor Room: TextInputTerminal, GroupMemberTerminal {
///     @Property var room = "lobby"
///     public func isMember(of group: String) -> Bool { group == room }
///     public func receive(text: String, from connection: TerminalConnection) async throws {
///         try await connection.api.broadcast(text, toGroup: room, of: Room.self, except: connection)
///     }
/// }
/// ```
public protocol GroupMemberTerminal: TerminalResource {
    /// Whether the terminal is in the group now.
    func isMember(of group: String) async -> Bool
}

/// The cluster an API has joined, and how it delivers what arrives.
final class ClusterMembership: Sendable {
    struct Joined {
        let bus: any ClusterBus
        let receiver: Task<Void, Never>
    }
    let joined = Mutex<Joined?>(nil)
    /// Local delivery by terminal type name: group, text, the sender's connection id on this instance.
    let deliverers = Mutex<[String: @Sendable (String, String, String?) async -> Void]>([:])

    func register<T: GroupMemberTerminal>(_ type: T.Type, api: SwitchboardAPI) {
        deliverers.withLock { deliverers in
            deliverers[T.resourceName] = { [weak api] group, text, excluded in
                await api?.deliver(.text(text), to: T.self, exceptID: excluded) { await $0.isMember(of: group) }
            }
        }
    }
}

extension SwitchboardAPI {
    /// Sends text to the members of a group (``GroupMemberTerminal``) of a terminal type: on this instance, and
    /// on every instance once the API has joined a cluster (``join(cluster:)``), each delivering to its own
    /// members. What one connection sends arrives everywhere in the order it was sent.
    /// - Parameters:
    ///   - text: The message.
    ///   - group: The group's name (a room).
    ///   - type: The terminal type whose members get it.
    ///   - excluded: A connection left out (the sender's own, typically).
    /// - Throws: When the cluster cannot take the message (PostgreSQL takes payloads up to about 7,900 bytes).
    public func broadcast<T: GroupMemberTerminal>(
        _ text: String, toGroup group: String, of type: T.Type, except excluded: TerminalConnection? = nil
    )
        async throws
    {
        guard let bus = cluster.joined.withLock({ $0?.bus }) else {
            await deliver(.text(text), to: type, exceptID: excluded?.id) { await $0.isMember(of: group) }
            return
        }
        var payload: JSONObject = ["Type": .string(T.resourceName), "Group": .string(group), "Text": .string(text), "Instance": .string(bus.instanceID)]
        if let excluded { payload["Except"] = .string(excluded.id) }
        try await bus.publish(JSON.object(payload).compact)
    }

    /// Joins the instances of a system: group broadcasts (``broadcast(_:toGroup:of:except:)``) from now on go
    /// through `bus` and reach the members on every instance. Call it once, when the API is set up;
    /// ``leaveCluster()`` stops it.
    public func join(cluster bus: any ClusterBus) {
        // Holds the API until ``leaveCluster()``: the receiver lives as long as the membership.
        let receiver = Task {
            do {
                try await bus.run { payload in await self.deliverFromCluster(payload, instanceID: bus.instanceID) }
            } catch {
                if !Task.isCancelled { self.logger.error("The cluster bus stopped", metadata: ["error": "\(error)"]) }
            }
        }
        let previous = cluster.joined.withLock { joined in
            defer { joined = ClusterMembership.Joined(bus: bus, receiver: receiver) }
            return joined
        }
        previous?.receiver.cancel()
    }

    /// Stops receiving from the cluster; group broadcasts are local again.
    public func leaveCluster() {
        cluster.joined.withLock { joined in
            joined?.receiver.cancel()
            joined = nil
        }
    }

    private func deliverFromCluster(_ payload: String, instanceID: String) async {
        guard case .object(let message)? = try? JSON(parsing: payload), case .string(let type)? = message["Type"],
            case .string(let group)? = message["Group"], case .string(let text)? = message["Text"]
        else { return }
        var excluded: String?
        if case .string(let instance)? = message["Instance"], instance == instanceID, case .string(let id)? = message["Except"] { excluded = id }
        guard let deliver = cluster.deliverers.withLock({ $0[type] }) else { return }
        await deliver(group, text, excluded)
    }

    /// Sends to the open terminals of a type that `include` accepts, but the connection with id `excluded`.
    @discardableResult
    func deliver<T: TerminalResource>(
        _ message: TerminalMessage, to type: T.Type, exceptID excluded: String?, where include: @escaping @Sendable (T) async -> Bool
    ) async -> Int {
        let targets = terminals(of: type).filter { $0.connection.id != excluded }
        return await withTaskGroup(of: Bool.self) { group in
            for target in targets {
                group.addTask {
                    guard await include(target.terminal) else { return false }
                    do {
                        try await target.connection.send(message)
                        return true
                    } catch {
                        return false
                    }
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
    }
}
