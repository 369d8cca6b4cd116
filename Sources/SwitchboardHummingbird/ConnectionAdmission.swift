import Switchboard
import Synchronization

/// Counts WebSocket connections in all and per client address, from the moment an upgrade is admitted, so
/// that a burst of upgrades cannot slip past the caps while earlier ones are still being set up.
///
/// An admitted upgrade is *pending* until its WebSocket handler starts (``activate(_:)``) and *active* until
/// it ends (``finish(_:)``). A pending upgrade whose handler never starts (the client left after the `101`)
/// stops counting after ``pendingLifetime``.
final class ConnectionAdmission: Sendable {
    private struct State {
        var active: [String: Int] = [:]
        var activeTotal = 0
        var pending: [(clientIP: String, expires: ContinuousClock.Instant)] = []
    }

    let maxConnections: Int
    let maxConnectionsPerClient: Int
    let pendingLifetime: Duration
    private let state = Mutex(State())

    init(maxConnections: Int, maxConnectionsPerClient: Int, pendingLifetime: Duration = .seconds(30)) {
        self.maxConnections = maxConnections
        self.maxConnectionsPerClient = maxConnectionsPerClient
        self.pendingLifetime = pendingLifetime
    }

    /// Admits an upgrade from `clientIP`, or throws the `503` to answer it with.
    func admit(_ clientIP: String) throws(SwitchboardError) {
        let refusal: SwitchboardError? = state.withLock { state in
            let now = ContinuousClock.now
            state.pending.removeAll { $0.expires <= now }
            if state.activeTotal + state.pending.count >= maxConnections {
                return SwitchboardError(
                    .serviceUnavailable, code: .tooManyConnections,
                    "The server has \(maxConnections) connections, the most it serves; try again later")
            }
            let fromClient = state.active[clientIP, default: 0] + state.pending.count { $0.clientIP == clientIP }
            if fromClient >= maxConnectionsPerClient {
                return SwitchboardError(
                    .serviceUnavailable, code: .tooManyConnections,
                    "\(clientIP) has \(maxConnectionsPerClient) connections open, the most one client may; close one first")
            }
            state.pending.append((clientIP, now + pendingLifetime))
            return nil
        }
        if let refusal { throw refusal }
    }

    /// The upgrade was admitted but did not happen.
    func withdraw(_ clientIP: String) {
        state.withLock { state in
            if let index = state.pending.firstIndex(where: { $0.clientIP == clientIP }) { state.pending.remove(at: index) }
        }
    }

    /// The connection's WebSocket handler starts.
    func activate(_ clientIP: String) {
        state.withLock { state in
            if let index = state.pending.firstIndex(where: { $0.clientIP == clientIP }) { state.pending.remove(at: index) }
            state.active[clientIP, default: 0] += 1
            state.activeTotal += 1
        }
    }

    /// The connection's WebSocket handler ends.
    func finish(_ clientIP: String) {
        state.withLock { state in
            let left = state.active[clientIP, default: 1] - 1
            state.active[clientIP] = left > 0 ? left : nil
            state.activeTotal = max(0, state.activeTotal - 1)
        }
    }
}
