import Foundation
import InMemoryLogging
import Logging
import Synchronization
import NIOCore
import Switchboard
import SwitchboardHummingbird
import Testing

@testable import SwitchboardTestSupport

/// Misbehaving clients and handlers at the socket level: each is survived, and a second connection
/// keeps working.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct RobustnessTests {
    /// At the first head's deadline a half-sent head is answered `408` and a silent connection closed
    /// unanswered; neither leaves an error in the log (HummingbirdWebSocket logged one for each, "Error handling
    /// upgrade result", as any client could make it do at will).
    @Test func aSlowLorisUpgradeIsClosedAtTheDeadlineWhileOthersAreServed() async throws {
        let logs = InMemoryLogHandler()
        var logger = Logger(label: "test") { _ in logs }
        logger.logLevel = .debug
        try await TestServer.with(configuration: .init(requestHeadTimeout: .milliseconds(500)), logger: logger) { server in
            let slow = try RawSocket(port: server.port)
            try slow.write(Array("GET /api/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n".utf8))
            let silent = try RawSocket(port: server.port)
            let witness = try await Witness.open(server)
            try await witness.stillWorks()
            let answer = try await onOwnThread { String(decoding: try slow.readToEnd(), as: UTF8.self) }
            #expect(answer.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"), "\(answer)")
            #expect(answer.hasSuffix("\r\n\r\n408: Request timeout. The request head did not arrive whole within 0.5 s; send it at once.\n"), "\(answer)")
            #expect(try await onOwnThread { try silent.readToEnd() }.isEmpty)
            let errors = logs.entries.filter { $0.level >= .warning }.map { "\($0.message)" }
            #expect(errors.isEmpty, "\(errors)")
        }
    }

    @Test func aClientThatResetsMidMessageIsCleanedUp() async throws {
        try await TestServer.with { server in
            let witness = try await Witness.open(server)
            let raw = try RawSocket(port: server.port)
            try await raw.upgrade(path: "/api/echo")
            #expect(await eventually { server.api.connectionCount == 2 })
            // A binary frame that announces 1000 bytes, 10 of them sent, then a TCP reset.
            try raw.write(RawSocket.maskedFrame(opcode: 0x2, payload: [UInt8](repeating: 7, count: 1000)).prefix(20).map { $0 })
            raw.reset()
            #expect(await eventually { server.api.connectionCount == 1 })
            try await witness.stillWorks()
        }
    }

    /// The tests' line client, left by its test (its commands' input closed, as when a test process dies),
    /// closes its connection and exits: it does not wait for a server that may never close, holding the test
    /// run's output open (`swift test` waited on two such clients once).
    @Test func aTestClientLeftByItsTestClosesAndExits() async throws {
        try await TestServer.with { server in
            let client = try await WebSocketTestClient.connect(server.base + "/api/echo")
            #expect(await eventually { server.api.connectionCount == 1 })
            client.abandonInput()
            #expect(await eventually { !client.isRunning })
            #expect(await eventually { server.api.connectionCount == 0 })
        }
    }

    @Test func aSecondUpgradeOnAnOpenWebSocketIsAProtocolError() async throws {
        try await TestServer.with { server in
            let witness = try await Witness.open(server)
            let raw = try RawSocket(port: server.port)
            try await raw.upgrade(path: "/api/echo")
            let again =
                "GET /api/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            try raw.write(Array(again.utf8))
            let reply = try await onOwnThread { try raw.readToEnd() }
            #expect(RawSocket.closeCode(in: reply) == 1002)
            try await witness.stillWorks()
        }
    }

    @Test func aFloodOfSmallMessagesIsEchoedInOrder() async throws {
        try await TestServer.with { server in
            let witness = try await Witness.open(server)
            let client = try await WebSocketTestClient.connect(server.base + "/api/echo")
            let count = 5000
            for index in 0..<count { client.send("m\(index)") }
            var received: [String] = []
            for _ in 0..<count { received.append(try await client.receiveText()) }
            #expect(received == (0..<count).map { "m\($0)" })
            try await client.close()
            try await witness.stillWorks()
        }
    }

    @Test func aClientThatNeverReadsIsHeldBackNotBuffered() async throws {
        try await TestServer.with { server in
            let witness = try await Witness.open(server)
            let raw = try RawSocket(port: server.port)
            try await raw.upgrade(path: "/api/echo")
            // Echo requests, never reading the echoes: the server must stop reading rather than buffer
            // without bound, so the client's writes come to a stop well before 256 MiB.
            let frame = RawSocket.maskedFrame(opcode: 0x2, payload: [UInt8](repeating: 1, count: 64 << 10))
            let accepted = try await onOwnThread { try raw.writeUntilBlocked(frame, limit: 256 << 20) }
            #expect(accepted < 64 << 20, "the server took \(accepted) bytes from a client that never reads")
            try await witness.stillWorks()
            raw.reset()
            #expect(await eventually { server.api.connectionCount == 0 })
        }
    }

    @Test func aHandlerWhoseTaskIsCancelledIsReportedAndSurvived() async throws {
        try await TestServer.with { server in
            let witness = try await Witness.open(server)
            let client = try await WebSocketTestClient.connect(server.base + "/api/blocker")
            client.send("cancel")
            #expect(try await client.receiveText().hasPrefix("500: Internal server error. The details are in the server log under error id "))
            client.send("again")
            #expect(try await client.receiveText() == "ok: again")
            try await client.close()
            try await witness.stillWorks()
        }
    }
}

/// Connection caps: an upgrade beyond the total or the per-client cap is refused with 503 before it
/// happens, and room comes back when a connection closes.
@Suite struct ConnectionLimitTests {
    @Test(arguments: [(3, 100), (100, 3)])
    func upgradesBeyondTheCapsAreRefusedWith503(perClient: Int, total: Int) async throws {
        try await TestServer.with(configuration: .init(maxConnections: total, maxConnectionsPerClient: perClient)) { server in
            var open: [WebSocketTestClient] = []
            for _ in 0..<3 { open.append(try await WebSocketTestClient.connect(server.base + "/api/echo")) }
            #expect(try await WebSocketTestClient.refusalStatus(server.base + "/api/echo") == 503)
            let answer = try await RawHTTP.request(
                port: server.port, "GET", "/api/echo",
                headers: RawHTTP.upgradeHeaders)
            #expect(answer.status == 503)
            #expect(answer.body.contains("TooManyConnections"))
            // Plain HTTP does not count towards the WebSocket caps (it has caps of its own: TCPConnectionLimitTests).
            #expect(try await RawHTTP.request(port: server.port, "GET", "/api/superhero").status == 200)
            try await open.removeLast().close()
            #expect(await eventually { server.api.connectionCount == 2 })
            let again = try await WebSocketTestClient.connect(server.base + "/api/echo")
            again.send("room again")
            #expect(try await again.receiveText() == "room again")
            try await again.close()
            for client in open { try await client.close() }
        }
    }

    /// Upgrades admitted together count at once, not when their sessions start: twelve upgrade requests
    /// written at the same moment on twelve sockets get exactly four `101`s.
    @Test func aBurstOfUpgradesCannotSlipPastTheCap() async throws {
        let script = """
            import base64, os, socket, sys
            port = int(sys.argv[1])
            sockets = [socket.create_connection(("127.0.0.1", port), timeout=20) for _ in range(12)]
            requests = [(f"GET /api/echo HTTP/1.1\\r\\nHost: 127.0.0.1:{port}\\r\\nUpgrade: websocket\\r\\n"
                         f"Connection: Upgrade\\r\\nSec-WebSocket-Version: 13\\r\\n"
                         f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\\r\\n\\r\\n").encode() for _ in sockets]
            for connection, request in zip(sockets, requests):
                connection.sendall(request)
            print(" ".join(connection.recv(4096).split(b" ")[1].decode() for connection in sockets))
            """
        try await TestServer.with(configuration: .init(maxConnectionsPerClient: 4)) { server in
            let port = server.port
            let statuses = try await runToEnd(["python3", "-c", script, "\(port)"]).output
            let codes = statuses.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            #expect(codes.count == 12, "\(statuses)")
            #expect(codes.filter { $0 == "101" }.count == 4, "\(statuses)")
            #expect(codes.filter { $0 == "503" }.count == 8, "\(statuses)")
        }
    }
}

/// TCP connection caps: every connection counts, plain HTTP too, in all and per peer address; one beyond a
/// cap is answered `503` and closed, and room comes back when a connection closes.
@Suite(.timeLimit(.minutes(2))) struct TCPConnectionLimitTests {
    @Test func connectionsBeyondThePerPeerCapAreAnswered503WhileOtherAddressesAreServed() async throws {
        let configuration = SwitchboardServerConfiguration(maxConnectionsPerClient: 2, maxTCPConnectionsPerPeer: 4)
        let logs = InMemoryLogHandler()
        var logger = Logger(label: "test") { _ in logs }
        logger.logLevel = .debug
        try await TestServer.with(configuration: configuration, logger: logger) { server in
            // Plain HTTP connections count: four are kept open (keep-alive), the fifth and sixth are refused.
            let flood = try await ConnectionFlood(port: server.port, count: 6)
            #expect(flood.outcome == "200=4 503=2 closed=0 silent=0")
            let answer = try await RawHTTP.request(port: server.port, "GET", "/api/superhero")
            #expect(answer.status == 503)
            #expect(answer.head.hasPrefix("HTTP/1.1 503 Service unavailable\r\n"), "\(answer.head)")
            #expect(answer.body.contains(#""ErrorCode": "TooManyConnections""#))
            #expect(answer.body.contains("127.0.0.1 holds 4 connections to this server, the most one address may; close one first"))
            #expect(try await WebSocketTestClient.refusalStatus(server.base + "/api/echo") == 503)
            // Another address is served meanwhile.
            #expect(try await ConnectionFlood.outcome(port: server.port, count: 2, source: "127.0.0.2") == "200=2 closed=0 silent=0")
            try await flood.finish()
            #expect(await eventuallyAsync { (try? await RawHTTP.request(port: server.port, "GET", "/api/superhero").status) == 200 })
            let client = try await WebSocketTestClient.connect(server.base + "/api/echo")
            client.send("room again")
            #expect(try await client.receiveText() == "room again")
            try await client.close()
            // A refusal is the client's business, not the operator's: nothing in the log at warning or above.
            let errors = logs.entries.filter { $0.level >= .warning }.map { "\($0.message)" }
            #expect(errors.isEmpty, "\(errors)")
        }
    }

    @Test func connectionsBeyondTheTotalCapAreAnswered503() async throws {
        let configuration = SwitchboardServerConfiguration(maxConnections: 2, maxTCPConnections: 3)
        try await TestServer.with(configuration: configuration) { server in
            let first = try await ConnectionFlood(port: server.port, count: 2)
            #expect(first.outcome == "200=2 closed=0 silent=0")
            let second = try await ConnectionFlood(port: server.port, count: 2, source: "127.0.0.2")
            #expect(second.outcome == "200=1 503=1 closed=0 silent=0")
            let answer = try await RawHTTP.request(port: server.port, "GET", "/api/superhero")
            #expect(answer.status == 503)
            #expect(answer.body.contains("The server holds 3 connections, the most it serves; try again later"))
            try await first.finish()
            try await second.finish()
            #expect(await eventuallyAsync { (try? await RawHTTP.request(port: server.port, "GET", "/api/superhero").status) == 200 })
        }
    }

    /// A trusted proxy carries many clients: its connections count towards the total only.
    @Test func aTrustedProxysConnectionsCountTowardsTheTotalOnly() async throws {
        let configuration = SwitchboardServerConfiguration(
            trustedProxies: [IPAddressRange("127.0.0.1/32")!], maxConnectionsPerClient: 1, maxTCPConnectionsPerPeer: 1)
        try await TestServer.with(configuration: configuration) { server in
            let proxy = try await ConnectionFlood(port: server.port, count: 4)
            #expect(proxy.outcome == "200=4 closed=0 silent=0")
            #expect(try await ConnectionFlood.outcome(port: server.port, count: 2, source: "127.0.0.2") == "200=1 503=1 closed=0 silent=0")
            try await proxy.finish()
        }
    }

    /// Hundreds of connections from one address: each is served, refused with `503` or closed at once (none
    /// left waiting), another address is served meanwhile, and once they close the address is served again.
    @Test func aFloodOfConnectionsFromOneAddressLeavesOthersServed() async throws {
        let configuration = SwitchboardServerConfiguration(maxConnectionsPerClient: 4, maxTCPConnectionsPerPeer: 8)
        try await TestServer.with(configuration: configuration) { server in
            // The witness's connection is one of the address's eight.
            let witness = try await Witness.open(server)
            let flood = try await ConnectionFlood(port: server.port, count: 400)
            let counts = flood.counts
            #expect(counts["200"] == 7, "\(flood.outcome)")
            #expect(counts["silent"] == 0, "\(flood.outcome)")
            #expect((counts["503"] ?? 0) + (counts["closed"] ?? 0) == 393, "\(flood.outcome)")
            #expect((counts["503"] ?? 0) >= 1, "\(flood.outcome)")
            try await witness.stillWorks()  // and closes it
            #expect(try await ConnectionFlood.outcome(port: server.port, count: 1, source: "127.0.0.2") == "200=1 closed=0 silent=0")
            try await flood.finish()
            // Every count came back (the witness closed too): eight served from the address again, the ninth answered.
            let last = Mutex("")
            let port = server.port
            #expect(
                await eventuallyAsync {
                    let outcome = (try? await ConnectionFlood.outcome(port: port, count: 9)) ?? "no outcome"
                    last.withLock { $0 = outcome }
                    return outcome == "200=8 503=1 closed=0 silent=0"
                }, "\(last.withLock { $0 })")
        }
    }
}

/// Keep-alive pings: empty, answered pongs keep the connection, a missed one closes it.
@Suite(.timeLimit(.minutes(1))) struct KeepAliveTests {
    @Test func pingsCarryNoPayloadAndAnUnansweredOneCloses() async throws {
        // Two seconds between pings: a loaded machine can hold the Python client back for a few hundred
        // milliseconds, and once (CI, 2026-12-03, while every other suite was starting) for more than a second.
        try await TestServer.with(configuration: .init(pingInterval: .seconds(2))) { server in
            let port = server.port
            let output = try await runToEnd([
                "python3", FileManager.default.currentDirectoryPath + "/Tests/Support/ping_client.py", "\(port)", "/api/echo",
            ]).output
            // Two pings answered, a third that is not, then the close at the fourth's time.
            #expect(output == "ping 0\nping 0\nping 0\nclose 1001 No answer to ping\nend\n", "\(output)")
        }
    }
}

/// HTTP hygiene: a refused body, a malformed head and a body that never comes each end the connection
/// promptly, and the server goes on serving. (Each used to hold its socket until the client gave up.)
@Suite(.serialized, .timeLimit(.minutes(1))) struct HTTPHygieneTests {
    static let malformed: [(request: String, status: String)] = [
        ("GET /api/superhero HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: " + String(repeating: "a", count: 100_000) + "\r\n\r\n", "431"),
        ("GET /" + String(repeating: "a", count: 100_000) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "431"),
        ("GET /api/superhero HTTP/1.1\r\nHost : x\r\n\r\n", "400"),
        ("POST /api/superhero HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"),
        ("POST /api/superhero HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", "400"),
        ("\u{1}\u{2}garbage\u{7F} bytes \r\n\r\n", "400"),
    ]

    @Test(arguments: malformed)
    func aMalformedHeadIsAnsweredAndClosed(request: String, status: String) async throws {
        let logs = InMemoryLogHandler()
        var logger = Logger(label: "test") { _ in logs }
        logger.logLevel = .trace
        try await TestServer.with(logger: logger) { server in
            let socket = try RawSocket(port: server.port)
            try socket.write(Array(request.utf8))
            let answer = try await onOwnThread { String(decoding: try socket.readToEnd(), as: UTF8.self) }
            #expect(answer.hasPrefix("HTTP/1.1 \(status)"), "\(answer.prefix(80))")
            #expect(answer.lowercased().contains("connection: close"))
            #expect(try await RawHTTP.request(port: server.port, "GET", "/api/superhero").status == 200)
        }
        // Read once the server has stopped, so every connection is closed: a client's garbage is not the
        // operator's error (HummingbirdWebSocket logged "Error handling upgrade result" for each, at will).
        let errors = logs.entries.filter { $0.level >= .warning }.map { "\($0.message)" }
        #expect(errors.isEmpty, "\(errors)")
    }

    /// `OPTIONS *` asks about the server (RFC 9110 §9.3.7), as proxies and load balancers do to see that it is
    /// up: it was `404`. The connection stays open for the next request.
    @Test func optionsAsteriskIsAnsweredForTheServer() async throws {
        try await TestServer.with { server in
            let requests = "OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /api/superhero//limit=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            let answer = try await onOwnThread { try RawHTTP.exchange(port: server.port, bytes: Array(requests.utf8)) }
            #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(answer.prefix(200))")
            #expect(answer.contains("Allow: GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE, REPORT\r\n"))
            #expect(answer.components(separatedBy: "HTTP/1.1 200 OK").count == 3, "and the GET after it")
        }
    }

    /// A malformed head after a good request on a keep-alive connection: Hummingbird answers it `400`, and the
    /// connection ends at once rather than when the idle timeout (two minutes here, longer than the suite's time
    /// limit) or the client ends it.
    @Test func aMalformedHeadAfterAGoodRequestIsAnsweredAndClosed() async throws {
        try await TestServer.with(configuration: .init(idleTimeout: .seconds(120))) { server in
            let socket = try RawSocket(port: server.port)
            let good = "GET /api/superhero//limit=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            let malformed = "GET /api/superhero HTTP/1.1\r\nHost : x\r\n\r\n"
            try socket.write(Array((good + malformed).utf8))
            let answer = try await onOwnThread { String(decoding: try socket.readToEnd(), as: UTF8.self) }
            let statuses = answer.matches(of: #/HTTP/1\.1 ([0-9]{3}) /#).map { String($0.output.1) }
            #expect(statuses == ["200", "400"], "\(answer.prefix(300))")
            #expect(answer.lowercased().contains("connection: close"))
            #expect(try await RawHTTP.request(port: server.port, "GET", "/api/superhero").status == 200)
        }
    }

    @Test func aBodyOverTheLimitIsAnswered413AndTheConnectionClosedUnread() async throws {
        // An idle timeout longer than the suite's time limit: the connection must end because of the answer.
        try await TestServer.with(configuration: .init(maxBodySize: 1024, idleTimeout: .seconds(120))) { server in
            let socket = try RawSocket(port: server.port)
            let head = "POST /api/superhero HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n"
            try socket.write(Array(head.utf8) + [UInt8](repeating: UInt8(ascii: " "), count: 200_000))
            // The rest of the 10 MB never comes; the server answers and closes anyway.
            let answer = try await onOwnThread { String(decoding: try socket.readToEnd(), as: UTF8.self) }
            #expect(answer.hasPrefix("HTTP/1.1 413"), "\(answer.prefix(80))")
            #expect(answer.lowercased().contains("connection: close"))
            #expect(try await RawHTTP.request(port: server.port, "GET", "/api/superhero").status == 200)
        }
    }

    /// A client that sends its whole body before it reads the answer, and says `Connection: close` (Python's
    /// `urllib`; most clients without `Expect: 100-continue` send first too) gets the answer given before the
    /// body is read: `401` for a wrong key, `413` for a body its `Content-Length` says is too large, `403` for a
    /// foreign origin. The server reads and drops the body until the client closes. Hummingbird reads nothing
    /// after answering a request that says `Connection: close`: the client waited for the idle timeout and then
    /// saw its connection reset; and after the `413`, the connection was closed two seconds later with the body
    /// unread, with the same reset.
    @Test(arguments: [("wrong-key", nil, 401), (SecurityTests.bobKey, nil, 413), (SecurityTests.bobKey, "https://evil.example", 403)])
    func aClientThatSendsItsWholeBodyFirstReadsTheAnswer(key: String, origin: String?, status: Int) async throws {
        let configuration = SwitchboardServerConfiguration(maxBodySize: 1 << 20, idleTimeout: .seconds(120))
        try await TestServer.with(configuration: configuration, authenticator: SecurityTests.keys()) { server in
            let script = """
                import urllib.request, urllib.error, sys
                request = urllib.request.Request("http://127.0.0.1:\(server.port)/api/superhero", data=b"[" + b" " * (20 << 20) + b"]",
                    method="POST", headers={"Content-Type": "application/json", "Authorization": "Bearer \(key)"\(origin.map { #", "Origin": "\#($0)""# } ?? "")})
                try:
                    urllib.request.urlopen(request, timeout=20)
                except urllib.error.HTTPError as error:
                    print(error.code, error.headers.get("Connection"), error.read().decode())
                """
            let (exit, output) = try await runToEnd(["python3", "-c", script])
            #expect(exit == 0, "\(output)")
            #expect(output.hasPrefix("\(status) close "), "\(output)")
            #expect(
                try await RawHTTP.request(port: server.port, "GET", "/api/superhero", headers: ["Authorization: Bearer \(SecurityTests.bobKey)"]).status == 200)
        }
    }

    /// An HTTP/1.0 exchange ends after its answer unless the request says `Connection: keep-alive` (RFC 9112
    /// §9.3): answered, refused or not found. The server kept the connection open until the idle timeout (two
    /// minutes here, longer than the suite's time limit), and a client that reads to the end waited for it.
    @Test func anHTTP10ExchangeEndsAfterItsAnswerUnlessItAsksToKeepAlive() async throws {
        try await TestServer.with(configuration: .init(idleTimeout: .seconds(120))) { server in
            for (request, status) in [
                ("GET /api/superhero//limit=1 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", "200"),
                ("GET /nothing HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", "404"), ("GET /api/superhero HTTP/1.0\r\n\r\n", "403"),
                ("POST /api/superhero HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]", "200"),
            ] {
                let socket = try RawSocket.sending(request, port: server.port)
                let answer = String(decoding: try await onOwnThread { try socket.readToEnd() }, as: UTF8.self)
                #expect(answer.hasPrefix("HTTP/1.1 \(status) "), "\(request.prefix(40)): \(answer.prefix(200))")
                #expect(socket.peerClosed, "\(request.prefix(40)): the connection ended")
            }
            // Asked to keep it: the next request is answered on it, and that one, asking nothing, ends it.
            let socket = try RawSocket(port: server.port)
            socket.setReceiveTimeout(seconds: 20)
            let request = "GET /api/superhero//limit=1 HTTP/1.0\r\nHost: 127.0.0.1\r\n"
            try socket.write(Array((request + "Connection: Keep-Alive\r\n\r\n" + request + "\r\n").utf8))
            let answers = String(decoding: try await onOwnThread { try socket.readToEnd() }, as: UTF8.self)
            #expect(answers.matches(of: #/HTTP/1\.1 200 /#).count == 2, "\(answers.prefix(600))")
            // The first answer says it keeps the connection (an HTTP/1.0 client closes otherwise), the second not.
            #expect(answers.lowercased().matches(of: #/connection: keep-alive/#).count == 1, "\(answers.prefix(600))")
            #expect(socket.peerClosed)
        }
    }

    /// ApacheBench sends HTTP/1.0 and reads each answer until its connection ends, unless the answer says
    /// `keep-alive` (with `-k`, it asks for one): every request waited for the idle timeout (30 s by default),
    /// and with a shorter limit of its own (`-s`) ab gave up. Runs where `ab` is installed (`.ci/run` installs
    /// apache2-utils).
    @Test(arguments: [false, true])
    func apacheBenchGetsEveryAnswer(keepAlive: Bool) async throws {
        guard isInstalled("ab") else { return }
        try await TestServer.with(configuration: .init(idleTimeout: .seconds(120))) { server in
            // NDJSON carries no elapsed time, so every answer has the same length, which ab checks.
            let (exit, output) = try await runToEnd(
                ["ab"] + (keepAlive ? ["-k"] : []) + [
                    "-s", "20", "-n", "40", "-c", "2", "-H", "Accept: application/x-ndjson",
                    "http://127.0.0.1:\(server.port)/api/superhero//limit=2",
                ])
            #expect(exit == 0, "\(output)")
            #expect(output.contains("Complete requests:      40"), "\(output)")
            #expect(output.contains("Failed requests:        0"), "\(output)")
            #expect(!output.contains("Non-2xx"), "\(output)")
            #expect(output.contains("Keep-Alive requests:    40") == keepAlive, "\(output)")
        }
    }

    /// A connection's first request that asks for an upgrade to a protocol other than WebSocket (`h2c`, as
    /// `curl --http2` and Java's `HttpClient` ask over plain HTTP) is answered over HTTP/1.1, and the answer ends
    /// the connection (NIO's decoder parses nothing after such a request): NIO's upgrade handler lost its head,
    /// and the client got no answer at all. A request pipelined behind it is not answered on that connection.
    /// Asked for on a later request, below the API root, it is answered too, and that answer ends the
    /// connection (it hung until the idle timeout).
    @Test func anUpgradeToAnotherProtocolIsIgnoredAndTheAnswerEndsTheConnection() async throws {
        let h2c =
            "GET /api/superhero//limit=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"
        let plain = "GET /api/superhero//limit=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        try await TestServer.with(configuration: .init(idleTimeout: .seconds(120))) { server in
            for (requests, answers) in [(h2c, 1), (h2c + plain, 1), (plain + h2c, 2), (plain + h2c + plain, 2)] {
                let socket = try RawSocket.sending(requests, port: server.port)
                let answer = String(decoding: try await onOwnThread { try socket.readToEnd() }, as: UTF8.self)
                #expect(answer.matches(of: #/HTTP/1\.1 200 /#).count == answers, "\(answers) answers: \(answer.prefix(600))")
                #expect(answer.lowercased().contains("connection: close"), "\(answer.prefix(600))")
                #expect(socket.peerClosed, "the connection ended")
            }
        }
    }

    /// A connection's first request that asks for a WebSocket without the rest of a handshake (`curl -H 'Upgrade:
    /// websocket'`, no `Sec-WebSocket-Key`, a key given twice, version 8) got no answer at all ("Empty reply from
    /// server": NIO's upgrader declines it on its lost-head path). It is served as the plain request it also is,
    /// closing the connection: a terminal's `426` says what a handshake needs, or which version this server
    /// speaks (in `Sec-WebSocket-Version` too, RFC 6455 §4.4); an entity resource's `GET` is answered.
    @Test(arguments: [
        ("/api/echo", "Upgrade: websocket\r\n", "must include a WebSocket upgrade handshake, as in: switchboard connect ws://HOST/api/echo\""),
        (
            "/api/echo", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n",
            "; a handshake has Upgrade: websocket, Connection: Upgrade, one Sec-WebSocket-Key and Sec-WebSocket-Version: 13\""
        ),
        (
            "/api/echo",
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: a\r\nSec-WebSocket-Key: b\r\n",
            "; a handshake has"
        ),
        (
            "/api/echo",
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
            "; this server speaks WebSocket version 13, and the request asked for version '8'\""
        ),
        ("/api/superhero//limit=1", "Upgrade: websocket\r\nConnection: Upgrade\r\n", "\"DataCount\": 1"),
    ])
    func anIncompleteWebSocketHandshakeIsAnsweredAsAPlainRequest(path: String, fields: String, expected: String) async throws {
        try await TestServer.with(configuration: .init(idleTimeout: .seconds(120))) { server in
            let socket = try RawSocket.sending("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(fields)\r\n", port: server.port)
            let answer = String(decoding: try await onOwnThread { try socket.readToEnd() }, as: UTF8.self)
            #expect(answer.hasPrefix(path == "/api/echo" ? "HTTP/1.1 426 " : "HTTP/1.1 200 "), "\(answer)")
            #expect(answer.contains(expected), "\(answer)")
            #expect(answer.contains("Sec-WebSocket-Version: 13\r\n") == fields.contains("Sec-WebSocket-Version"), "\(answer)")
            #expect(answer.lowercased().contains("connection: close"), "\(answer)")
            #expect(socket.peerClosed, "the connection ended")
        }
    }

    /// `curl --http2` over plain HTTP (an `h2c` upgrade on the first request, the next on a connection of its
    /// own after the answer's `Connection: close`): both answered. It said "Empty reply from server". Runs where
    /// curl is installed.
    @Test func curlAskingForHTTP2GetsItsAnswers() async throws {
        guard isInstalled("curl") else { return }
        try await TestServer.with(configuration: .init(idleTimeout: .seconds(120))) { server in
            let uri = "http://127.0.0.1:\(server.port)/api/superhero//limit=1"
            let (exit, output) = try await runToEnd([
                "curl", "-s", "--max-time", "20", "--http2", "-o", "/dev/null", "-o", "/dev/null", "-w", "%{http_code} ", uri, uri,
            ])
            #expect(exit == 0, "\(output)")
            #expect(output == "200 200 ", "\(output)")
        }
    }

    /// After its first answer a keep-alive connection is bounded by the idle timeout: a second request head
    /// trickled in a byte at a time is cut off, although the first-head deadline is far away.
    @Test func aSecondRequestHeadTrickledOnAKeepAliveConnectionIsCutOff() async throws {
        try await TestServer.with(configuration: .init(requestHeadTimeout: .seconds(60), idleTimeout: .milliseconds(500))) { server in
            let socket = try RawSocket(port: server.port)
            try socket.write(Array("GET /api/superhero HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
            let first = try await onOwnThread { try socket.readResponse() }
            #expect(first.hasPrefix("HTTP/1.1 200"))
            // The client's pace is what is under test: 300 bytes at one per 50 ms would take 15 s.
            let head = Array(("GET /api/superhero HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + String(repeating: "a", count: 300)).utf8)
            let sentBeforeClose = try await onOwnThread { () -> Int in
                for (index, byte) in head.enumerated() {
                    if (try? socket.write([byte])) == nil || socket.peerClosed { return index }
                    usleep(50_000)
                }
                return head.count
            }
            #expect(sentBeforeClose < 100, "closed after \(sentBeforeClose) bytes of the second head")
            #expect(try await RawHTTP.request(port: server.port, "GET", "/api/superhero").status == 200)
        }
    }

    @Test func aBodyThatNeverArrivesAndAnIdleConnectionAreClosed() async throws {
        try await TestServer.with(configuration: .init(idleTimeout: .milliseconds(500))) { server in
            let stalled = try RawSocket(port: server.port)
            try stalled.write(Array("POST /api/superhero HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{".utf8))
            let idle = try RawSocket(port: server.port)
            try idle.write(Array("GET /api/superhero HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
            // Both end: the stalled upload with nothing or an error, the keep-alive one after its answer.
            _ = try await onOwnThread { try stalled.readToEnd() }
            let answered = try await onOwnThread { String(decoding: try idle.readToEnd(), as: UTF8.self) }
            #expect(answered.hasPrefix("HTTP/1.1 200"))
            #expect(try await RawHTTP.request(port: server.port, "GET", "/api/superhero").status == 200)
        }
    }

    /// A client that asks and reads none of the answers: Hummingbird's idle timeout does not run while an
    /// answer is being written, and the answer waits for the socket for ever. The connection is closed once
    /// the client has taken nothing for the idle timeout, and the server goes on serving.
    ///
    /// With its receive buffer shrunk once connected, the client's kernel drops what no longer fits, and the
    /// server's sends it again at doubling intervals (0.2 s, 0.4 s, …), as to a client that has gone away.
    /// Counted as progress (data sent rather than data acknowledged), those sends held the connection until
    /// an interval passed the limit: 84 s in all for `serve`'s 30, and here, with a limit of 8 s, more than
    /// the 15 s the test waits (it failed so). The answers are the API's list of resources, 4 KiB each.
    @Test(arguments: [(nil, 3), (4_096, 8)])
    func aClientThatTakesNoAnswerIsDisconnected(receiveBuffer: Int?, idleSeconds: Int64) async throws {
        // Longer than the client takes to see that the server has stopped taking its requests (1 s).
        try await TestServer.with(configuration: .init(idleTimeout: .seconds(idleSeconds))) { server in
            let client = try await UnreadAnswersClient(port: server.port, path: "/api/", receiveBuffer: receiveBuffer)
            let (serverPort, clientPort) = (server.port, client.clientPort)
            let stalled = ContinuousClock.now
            #expect(RawSocket.serverEndIsOpen(serverPort: serverPort, clientPort: clientPort))
            #expect(
                await eventually(within: .seconds(15)) { !RawSocket.serverEndIsOpen(serverPort: serverPort, clientPort: clientPort) },
                "the server still holds the connection \(ContinuousClock.now - stalled) after the client stalled")
            #expect(try await RawHTTP.request(port: server.port, "GET", "/api/superhero").status == 200)
            try await client.finish()
        }
    }

    /// A client that reads its answers slowly for a while keeps its connection, with an idle timeout of half
    /// the slow stretch. It reads 2.5 MB of its 10 MB at full speed first, so that the kernel grows the
    /// server's send buffer to megabytes; then 4 s at 200 KB/s. The channel's own buffer stays full all that
    /// time (the kernel lets it write again only once half the send buffer is free), but segments leave for
    /// the client all the while, and each counts as progress. (Counting only what leaves the channel, the
    /// connection was closed after 8,062 of the 12,000 answers.)
    @Test func aClientThatReadsAnswersSlowlyKeepsItsConnection() async throws {
        try await TestServer.with(configuration: .init(idleTimeout: .seconds(2))) { server in
            let socket = try RawSocket(port: server.port)
            let count = 12_000
            let request = Array("GET /api/superhero HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
            let writer = Task.detached { try await onOwnThread { try socket.write(Array([[UInt8]](repeating: request, count: count).joined())) } }
            let (answers, bytes) = try await onOwnThread { () -> (Int, Int) in
                var buffer = [UInt8](repeating: 0, count: 65_536)
                var text: [UInt8] = []
                var (answers, bytes, slowReads) = (0, 0, 0)
                let status = Array("HTTP/1.1 200 ".utf8)
                while answers < count {
                    // The client's pace is what is under test: 4 KiB every 20 ms for 200 reads once 2.5 MB are in.
                    let slow = bytes >= 2_500_000 && slowReads < 200
                    let received = recv(socket.fd, &buffer, slow ? 4_096 : buffer.count, 0)
                    if received <= 0 { break }
                    bytes += received
                    text += buffer[0..<received]
                    var start = 0
                    while let range = text[start...].firstRange(of: status) {
                        answers += 1
                        start = range.upperBound
                    }
                    text = Array(text[start...].suffix(status.count - 1))
                    if slow {
                        slowReads += 1
                        usleep(20_000)
                    }
                }
                return (answers, bytes)
            }
            try await writer.value
            #expect(answers == count, "\(answers) answers (\(bytes) bytes) before the server closed the connection")
        }
    }
}

/// SIGTERM ends the process within the shutdown deadline even while handlers spin on the CPU and hold
/// every thread of the concurrency pool (`Tests/Fixtures/StuckServer`, deadline 2 s).
@Suite(.timeLimit(.minutes(1))) struct ShutdownDeadlineTests {
    @Test func sigtermExitsInTimeWhileHandlersAreStuck() async throws {
        let binary = try SwitchboardBinary.url.deletingLastPathComponent().appendingPathComponent("StuckServer")
        let process = Process()
        process.executableURL = binary
        process.arguments = ["2"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        let reader = output.fileHandleForReading
        let line = try await firstLine(of: reader)
        guard let port = Int(line.split(separator: " ").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") else {
            throw TestFailure("no port in \(line)")
        }
        // As many spinning handlers as the machine has cores: every thread of the concurrency pool is taken.
        var clients: [WebSocketTestClient] = []
        for _ in 0..<ProcessInfo.processInfo.activeProcessorCount {
            let client = try await WebSocketTestClient.connect("ws://127.0.0.1:\(port)/api/spinner")
            client.send("spin")
            #expect(try await client.receiveText() == "spinning")
            clients.append(client)
        }
        let stopping = ContinuousClock.now
        kill(process.processIdentifier, SIGTERM)
        try await onOwnThread { process.waitUntilExit() }
        let took = ContinuousClock.now - stopping
        #expect(took < .seconds(8), "took \(took)")
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 1, "a forced exit")
        _ = clients
    }
}
