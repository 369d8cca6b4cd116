import HTTPTypes
import Logging
import Synchronization

/// A terminal that belongs to broadcast groups by name (a chat room's): ``SwitchboardAPI/broadcast(_:toGroup:of:except:)``
/// reaches the members of a group on this instance, and on every instance of the system once the API has joined a
/// cluster (``SwitchboardAPI/join(cluster:)``).
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

extension SwitchboardAPI {
    /// Sends text to the members of a group (``GroupMemberTerminal``) of a terminal type: on this instance, and
    /// on every instance once the API has joined a cluster (``join(cluster:)``), each delivering to its own
    /// members. What one instance sends arrives everywhere in the order it was sent.
    /// - Parameters:
    ///   - text: The message.
    ///   - group: The group's name (a room).
    ///   - type: The terminal type whose members get it.
    ///   - excluded: A connection left out (the sender's own, typically).
    /// - Throws: 413 when the message is too long for the cluster (``ClusterBackplane/maxMessageBytes``, with
    ///   its envelope), 503 when the cluster cannot take it.
    public func broadcast<T: GroupMemberTerminal>(
        _ text: String, toGroup group: String, of type: T.Type, except excluded: TerminalConnection? = nil
    )
        async throws
    {
        guard let backplane = cluster.backplane else {
            await deliver(.text(text), to: type, exceptID: excluded?.id) { await $0.isMember(of: group) }
            return
        }
        var message: JSONObject = [
            "Kind": "Group", "From": .string(backplane.instanceName), "Type": .string(T.resourceName), "Group": .string(group), "Text": .string(text),
        ]
        if let excluded { message["Except"] = .string(excluded.id) }
        let payload = JSON.object(message).compact
        guard payload.utf8.count <= backplane.maxMessageBytes else {
            throw SwitchboardError(
                .contentTooLarge, code: .invalidInput,
                "The message is too long for the cluster: at most \(backplane.maxMessageBytes) bytes, with its envelope")
        }
        do {
            try await ClusterMembership.within { try await backplane.publish(payload) }
        } catch {
            logger.error("The cluster did not take a group message", metadata: ["error": "\(error)"])
            throw SwitchboardError(.serviceUnavailable, code: .clusterUnavailable, "The other instances cannot be reached now; the message was not sent")
        }
    }

    /// Delivers a group message that arrived through the cluster to this instance's members.
    func deliverGroupMessage(_ message: JSONObject, instanceName: String) async {
        guard case .string(let type)? = message["Type"], case .string(let group)? = message["Group"], case .string(let text)? = message["Text"],
            let deliver = cluster.deliverers.withLock({ $0[type] })
        else { return }
        // The excluded connection id is the sender's own only on the sender's instance.
        var excluded: String?
        if message["From"] == .string(instanceName), case .string(let id)? = message["Except"] { excluded = id }
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
