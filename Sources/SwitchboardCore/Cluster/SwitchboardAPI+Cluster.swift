extension SwitchboardAPI {
    /// Joins the instances of a system that share `backplane`, so that they act as one:
    /// - group broadcasts (``broadcast(_:toGroup:of:except:)``, the `ChatRoom` sample) reach the members on
    ///   every instance;
    /// - instance-local resources (``InstanceLocalResource``: `Switchboard.Admin.WebSocket`,
    ///   `Switchboard.PtySession`) list the entities of every live instance, and DELETE reaches the owner;
    /// - `Switchboard.Admin.Console` shows the events of every instance.
    ///
    /// Call it once, when the API is set up; it returns once this instance receives the cluster's messages (at
    /// most 10 seconds; after that it keeps trying in the background, and logs it). ``leaveCluster()`` stops
    /// it (a server that stops calls it, so that the others stop listing this instance at once rather than
    /// after the liveness window).
    public func join(cluster backplane: any ClusterBackplane) async {
        await cluster.join(backplane, events: events) { [weak self] message in
            await self?.deliverGroupMessage(message, instanceName: backplane.instanceName)
        }
    }

    /// Leaves the cluster: waits until this instance no longer receives from it, and removes this instance and
    /// its snapshots. Group broadcasts are local again.
    public func leaveCluster() async { await cluster.leave() }

    /// This instance's name in the cluster it has joined; `nil` when it has joined none.
    public var instanceName: String? { cluster.instanceName }
}
