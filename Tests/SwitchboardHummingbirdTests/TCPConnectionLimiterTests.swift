import NIOCore
import Switchboard
import Testing

@testable import SwitchboardHummingbird
@testable import SwitchboardTestSupport

/// The counting behind the TCP connection caps, connection by connection: what a flood through the network
/// shows only as it happens to be timed.
@Suite struct TCPConnectionLimiterTests {
    static func address(_ ip: String) throws -> SocketAddress { try SocketAddress(ipAddress: ip, port: 40_000) }

    @Test func refusalsAreAnsweredUpToTheirBudgetThenDroppedUntilOneEnds() throws {
        let limiter = TCPConnectionLimiter(maxConnections: 10, maxConnectionsPerPeer: 1, trustedProxies: [])
        let peer = try Self.address("192.0.2.1")
        guard case .admitted(let key) = limiter.admit(peer) else { throw TestFailure("the first connection was not admitted") }
        #expect(key == "192.0.2.1")
        for _ in 0..<TCPConnectionLimiter.maxRefusalsAnswered {
            guard case .refused(let refusal) = limiter.admit(peer) else { throw TestFailure("a refusal within the budget was not answered") }
            #expect(refusal.status == 503)
        }
        guard case .dropped = limiter.admit(peer) else { throw TestFailure("a refusal past the budget was answered") }
        limiter.refusalEnded()
        guard case .refused = limiter.admit(peer) else { throw TestFailure("an ended refusal did not free its place") }
        limiter.release(key)
        #expect(limiter.openConnections == 0)
        // Refusals take no place among the connections: with the one closed, the peer is admitted again.
        guard case .admitted = limiter.admit(peer) else { throw TestFailure("the peer was not admitted after its connection closed") }
    }

    @Test func theTotalCapCountsEveryPeerAndATrustedProxyOnlyThere() throws {
        let limiter = TCPConnectionLimiter(
            maxConnections: 3, maxConnectionsPerPeer: 1, trustedProxies: [IPAddressRange("10.0.0.0/8")!])
        let proxy = try Self.address("10.1.2.3")
        guard case .admitted(let proxyKey) = limiter.admit(proxy), case .admitted = limiter.admit(proxy) else {
            throw TestFailure("a trusted proxy was held to the per-peer cap")
        }
        #expect(proxyKey == nil)
        guard case .admitted = limiter.admit(try Self.address("192.0.2.1")) else { throw TestFailure("a third peer was refused") }
        guard case .refused(let refusal) = limiter.admit(try Self.address("192.0.2.2")) else { throw TestFailure("the total cap let a fourth in") }
        #expect(refusal.message == "The server holds 3 connections, the most it serves; try again later")
        limiter.release(proxyKey)
        #expect(limiter.openConnections == 2)
        guard case .admitted = limiter.admit(try Self.address("192.0.2.2")) else { throw TestFailure("a closed connection's place did not come back") }
    }
}
