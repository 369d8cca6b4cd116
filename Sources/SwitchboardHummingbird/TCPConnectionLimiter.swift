import NIOCore
import Switchboard
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Counts the server's TCP connections of every kind (plain HTTP, upgraded WebSocket, TLS handshakes under
/// way), in all and per peer address, from the moment a connection is accepted until it closes.
///
/// The WebSocket caps (``ConnectionAdmission``) count upgrades only: before this, a client could hold any
/// number of plain HTTP connections (each an open file, a few kilobytes, and a task), up to the process's
/// open-file limit, past which the server accepted nobody at all. A connection beyond either cap here is
/// answered `503` and closed (``ConnectionRefusalHandler``).
///
/// The peer is the TCP peer, not the client a trusted proxy forwards for: a trusted proxy carries many
/// clients over its connections, so its address counts only towards the total.
final class TCPConnectionLimiter: Sendable {
    private struct State {
        var total = 0
        var perPeer: [String: Int] = [:]
        /// Refused connections still open while their `503` is written and read.
        var refusing = 0
    }

    /// What to do with a connection just accepted.
    enum Admission {
        /// Serve it; call ``release(_:)`` with the key when it closes.
        case admitted(peerKey: String?)
        /// Answer it with this refusal and close it; call ``refusalEnded()`` when it has closed.
        case refused(SwitchboardError)
        /// Close it at once: too many refusals are being answered already.
        case dropped
    }

    let maxConnections: Int
    let maxConnectionsPerPeer: Int
    let trustedProxies: [IPAddressRange]
    /// The most refused connections kept open at once to be told why (each for at most
    /// ``ClosingResponseHandler/linger``); beyond it they are closed unanswered, so that a flood of refused
    /// connections takes no more open files than this.
    static let maxRefusalsAnswered = 64
    private let state = Mutex(State())

    init(maxConnections: Int, maxConnectionsPerPeer: Int, trustedProxies: [IPAddressRange]) {
        self.maxConnections = maxConnections
        self.maxConnectionsPerPeer = maxConnectionsPerPeer
        self.trustedProxies = trustedProxies
    }

    /// Counts a connection from `peer`, or says why not.
    func admit(_ peer: SocketAddress?) -> Admission {
        let address = peer?.ipText
        let peerKey = address.flatMap { address in trustedProxies.contains { $0.contains(address) } ? nil : address }
        return state.withLock { state in
            let refusal: SwitchboardError
            if state.total >= maxConnections {
                refusal = SwitchboardError(
                    .serviceUnavailable, code: .tooManyConnections,
                    "The server holds \(maxConnections) connections, the most it serves; try again later")
            } else if let peerKey, state.perPeer[peerKey, default: 0] >= maxConnectionsPerPeer {
                refusal = SwitchboardError(
                    .serviceUnavailable, code: .tooManyConnections,
                    "\(peerKey) holds \(maxConnectionsPerPeer) connections to this server, the most one address may; close one first")
            } else {
                state.total += 1
                if let peerKey { state.perPeer[peerKey, default: 0] += 1 }
                return .admitted(peerKey: peerKey)
            }
            guard state.refusing < Self.maxRefusalsAnswered else { return .dropped }
            state.refusing += 1
            return .refused(refusal)
        }
    }

    /// An admitted connection has closed.
    func release(_ peerKey: String?) {
        state.withLock { state in
            state.total -= 1
            if let peerKey {
                let left = state.perPeer[peerKey, default: 1] - 1
                state.perPeer[peerKey] = left > 0 ? left : nil
            }
        }
    }

    /// A refused connection has closed.
    func refusalEnded() {
        state.withLock { $0.refusing -= 1 }
    }

    /// The connections open now, in all.
    var openConnections: Int { state.withLock { $0.total } }

    /// Open files kept for everything but connections: the store, logs, recordings, the listening sockets,
    /// and a PTY program's master side for each of ``PTYManager``'s default 32 programs, twice over.
    static let filesKeptForOtherUses = 256

    /// The most connections the process's open-file limit (its soft `RLIMIT_NOFILE`) leaves room for, besides
    /// ``filesKeptForOtherUses`` and the refusals being answered, or `nil` when the limit is unknown or unlimited.
    static func connectionsTheOpenFileLimitAllows() -> Int? {
        var limit = rlimit()
        // RLIM_INFINITY is all ones on Linux and 2⁶³ − 1 on Darwin: either way at least Int.max.
        guard getrlimit(resourceNoFile, &limit) == 0, limit.rlim_cur < rlim_t(Int.max) else { return nil }
        return max(16, Int(clamping: limit.rlim_cur) - filesKeptForOtherUses - maxRefusalsAnswered)
    }

    /// Raises the process's soft open-file limit to its hard limit (as Go's runtime does at start), so that the
    /// connection caps, not the limit a login shell or service manager hands out (often 1,024), bound what the
    /// server serves. Returns the soft limit before and after, or `nil` when it was already as high.
    @discardableResult
    static func raiseOpenFileLimit() -> (before: Int, after: Int)? {
        var limit = rlimit()
        guard getrlimit(resourceNoFile, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return nil }
        let before = limit.rlim_cur
        #if canImport(Darwin)
        // Darwin refuses more than OPEN_MAX for RLIMIT_NOFILE, whatever the hard limit says.
        limit.rlim_cur = min(limit.rlim_max, rlim_t(OPEN_MAX))
        #else
        limit.rlim_cur = limit.rlim_max
        #endif
        guard limit.rlim_cur > before, setrlimit(resourceNoFile, &limit) == 0 else { return nil }
        return (Int(clamping: before), Int(clamping: limit.rlim_cur))
    }

    #if canImport(Glibc)
    private static var resourceNoFile: __rlimit_resource_t { __rlimit_resource_t(UInt32(RLIMIT_NOFILE.rawValue)) }
    #else
    private static var resourceNoFile: Int32 { RLIMIT_NOFILE }
    #endif
}
