import HTTPTypes
import Logging

/// An entity that lives on one instance of a cluster: a connection, a PTY program.
public protocol InstanceLocalEntity: Codable, Sendable {
    /// The instance that holds it; Switchboard sets it in listings once the API has joined a cluster, and
    /// leaves it `nil` otherwise. Declare it as a stored `var instance: String?` so that it is a column.
    var instance: String? { get set }
    /// What identifies it on its instance (a connection id, a process id).
    var localID: String { get }
}

/// A resource whose entities live on the instance that serves them (`Switchboard.Admin.WebSocket`,
/// `Switchboard.PtySession`): registered with `api.register(resource:)`,
/// it lists the entities of this instance alone, and once the API has joined a cluster
/// (``SwitchboardAPI/join(cluster:)``) those of every live instance, each row naming its ``InstanceLocalEntity/instance``;
/// DELETE reaches the instance that holds each entity.
///
/// Switchboard does the filtering, ordering and paging of the query language on the combined rows. Rights
/// are checked on the instance that is asked: ``isVisible(_:to:)`` decides which of the other instances'
/// entities a caller sees, and so may delete.
public protocol InstanceLocalResource: Sendable {
    associatedtype Entity: InstanceLocalEntity
    /// The full resource name.
    var resourceName: String { get }
    /// What the resource holds.
    var resourceDescription: String? { get }
    /// The operations: select, and delete where entities can be ended.
    var operations: EntityOperations { get }
    /// This instance's entities that `caller` may see, in a stable order; every one when `caller` is `nil`
    /// (what the other instances are told, about once a second).
    func entities(visibleTo caller: RESTCaller?) async -> [Entity]
    /// Whether `caller` may see (and delete) an entity that another instance holds.
    func isVisible(_ entity: Entity, to caller: RESTCaller) -> Bool
    /// Deletes entities of this instance; returns how many were deleted. `caller` is `nil` when another
    /// instance asks: it has checked the caller's rights.
    func delete(_ entities: [Entity], caller: RESTCaller?) async -> Int
}

/// The entity resource an ``InstanceLocalResource`` is served as: this instance's entities, and the other live
/// instances' from their snapshots.
struct ClusterWideResource<Local: InstanceLocalResource>: EntityResource {
    typealias Entity = Local.Entity
    let local: Local
    let cluster: ClusterMembership

    var resourceName: String { local.resourceName }
    var resourceDescription: String? { local.resourceDescription }
    var operations: EntityOperations { local.operations }

    func select(_ request: EntitySelectRequest) async throws -> EntitySelection<Entity> {
        let backplane = cluster.backplane
        var entities = await local.entities(visibleTo: request.caller)
        guard let backplane else { return .unfiltered(entities) }
        for index in entities.indices { entities[index].instance = backplane.instanceName }
        let snapshots: [ClusterSnapshot]
        do {
            let name = resourceName
            snapshots = try await ClusterMembership.within { try await backplane.snapshots(of: name) }
        } catch {
            SwitchboardError.logger.error("Cannot read the other instances' \(resourceName)", metadata: ["error": "\(error)"])
            throw SwitchboardError(
                .serviceUnavailable, code: .clusterUnavailable, "The other instances cannot be reached now, so their entities cannot be listed")
        }
        for snapshot in snapshots.sorted(by: { $0.instance < $1.instance }) {
            guard let others = try? ClusterMembership.decode([Entity].self, from: snapshot.entities) else { continue }
            for var entity in others where local.isVisible(entity, to: request.caller) {
                entity.instance = snapshot.instance
                entities.append(entity)
            }
        }
        return .unfiltered(entities)
    }

    func delete(_ entities: [Entity], caller: RESTCaller) async throws -> Int {
        let here = cluster.instanceName
        let byInstance = Dictionary(grouping: entities) { $0.instance ?? here ?? "" }
        var deleted = 0
        for (instance, group) in byInstance {
            if instance == here ?? "" {
                deleted += await local.delete(group, caller: caller)
            } else {
                deleted += await cluster.delete(ids: group.map(\.localID), of: resourceName, on: instance)
            }
        }
        return deleted
    }
}
