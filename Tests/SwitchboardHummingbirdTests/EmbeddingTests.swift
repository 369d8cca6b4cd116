import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import ServiceLifecycle
import Switchboard
import SwitchboardHummingbird
import SwitchboardNIOSSL
import SwitchboardSamples
import Synchronization
import Testing

@testable import SwitchboardTestSupport

/// Counts the request contexts alive: one token per request, shared by the context's copies.
final class ContextToken: Sendable {
    static let alive = Atomic<Int>(0)
    init() { Self.alive.add(1, ordering: .relaxed) }
    deinit { Self.alive.subtract(1, ordering: .relaxed) }
}

/// A context of the application's own, as a user writes it, with a token to count its instances.
struct TrackedContext: RequestContext, SwitchboardRequestContextProtocol {
    var coreContext: CoreRequestContextStorage
    let switchboard: SwitchboardContextStorage<TrackedContext>
    let token = ContextToken()

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        switchboard = .init(source: source)
    }
}

/// Mounting Switchboard into an application of one's own (`Docs/Embedding.md`): its own `/` route, its own
/// request context, the wrong server, a graceful shutdown however the application runs.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct EmbeddingTests {
    /// Runs an application on an ephemeral port until `body` returns, then shuts it down gracefully.
    static func withApplication<Context: RequestContext>(
        router: Router<Context>, server: HTTPServerBuilder, _ body: (Int) async throws -> Void
    ) async throws where Context.Source == ApplicationRequestContextSource {
        let (ports, sink) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, server: server, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { sink.yield($0.localAddress?.port ?? 0) }, logger: TestServer.defaultLogger)
        let group = ServiceGroup(configuration: .init(services: [app], logger: TestServer.defaultLogger))
        let running = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw TestFailure("the application did not start") }
        do {
            try await body(port)
        } catch {
            await group.triggerGracefulShutdown()
            _ = try? await running.value
            throw error
        }
        await group.triggerGracefulShutdown()
        try await running.value
    }

    /// A WebSocket upgrade request for `/api/echo`, without compression.
    static let echoUpgrade =
        "GET /api/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

    static func echoAPI() -> SwitchboardAPI {
        let api = SwitchboardAPI(logger: TestServer.defaultLogger)
        api.register { Echo() }
        return api
    }

    /// An application with its own `GET /` starts (it used to stop with "GET already has a handler"), keeps
    /// its `/`, and serves Switchboard below `/api`; a route of its own below the root with a fixed path
    /// (`/api/version`) is its own too, and passes Hummingbird's route validation (a debug build runs it).
    @Test func anApplicationKeepsItsOwnSlashRoute() async throws {
        let configuration = SwitchboardServerConfiguration()
        let router = Router(context: TrackedContext.self)
        router.get("/") { _, _ in "the application's own page\n" }
        router.get("/api/version") { _, _ in "the application's version\n" }
        router.addSwitchboard(Self.echoAPI(), configuration: configuration)
        try await Self.withApplication(router: router, server: .switchboard(webSocketRouter: router, configuration: configuration)) { port in
            let socket = try RawSocket(port: port)
            try socket.write(Array("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
            #expect(try await onOwnThread { try socket.readResponse() }.hasSuffix("the application's own page\n"))
            try socket.write(Array("GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
            #expect(try await onOwnThread { try socket.readResponse() }.hasSuffix("the application's version\n"))
            try socket.write(Array("GET /api/echo/a/b/c HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
            let deep = try await onOwnThread { try socket.readResponse() }
            #expect(deep.hasPrefix("HTTP/1.1 400") && deep.contains("has 4 segments"), "\(deep)")
            let client = try await WebSocketTestClient.connect("ws://127.0.0.1:\(port)/api/echo")
            client.send("hi")
            #expect(try await client.receiveText() == "hi")
            _ = try await client.close()
        }
    }

    /// A server that cannot upgrade (Hummingbird's plain HTTP/1) answers an upgrade with a clear `501`
    /// instead of an empty `200`.
    @Test func theWrongServerAnswersUpgradesClearly() async throws {
        let router = Router(context: TrackedContext.self)
        router.addSwitchboard(Self.echoAPI())
        try await Self.withApplication(router: router, server: .http1()) { port in
            let socket = try RawSocket(port: port)
            try socket.write(Array(Self.echoUpgrade.utf8))
            let response = try await onOwnThread { try socket.readResponse() }
            #expect(response.hasPrefix("HTTP/1.1 501"), "\(response)")
            #expect(response.contains("not set up for WebSocket connections"), "\(response)")
        }
    }

    /// An upgrade that no route takes is told why (HummingbirdWebSocket answers each with an empty `400`): a
    /// path without a route, or a route that answers without upgrading (the application's page), gets `404`
    /// naming where terminals are; a route's own refusal keeps its status; Switchboard's routes still upgrade.
    @Test func anUpgradeNoRouteTakesIsToldWhy() async throws {
        let configuration = SwitchboardServerConfiguration()
        let router = Router(context: TrackedContext.self)
        router.get("/") { _, _ in "the application's own page\n" }
        router.get("/private") { _, _ -> String in throw HTTPError(.forbidden) }
        router.addSwitchboard(Self.echoAPI(), configuration: configuration)
        try await Self.withApplication(router: router, server: .switchboard(webSocketRouter: router, configuration: configuration)) { port in
            for (path, status) in [("/", "404"), ("/nowhere", "404"), ("/private", "403")] {
                let socket = try RawSocket.sending(Self.echoUpgrade.replacingOccurrences(of: "/api/echo", with: path), port: port)
                let answer = String(decoding: try await onOwnThread { try socket.readToEnd() }, as: UTF8.self)
                #expect(answer.hasPrefix("HTTP/1.1 \(status) "), "\(path): \(answer)")
                #expect(answer.contains("Connection: close"), "\(path): \(answer)")
                if status == "404" {
                    #expect(answer.contains(#""ErrorCode": "NoWebSocketEndpoint""#), "\(path): \(answer)")
                    #expect(answer.contains("terminals are opened below /api/, such as /api/shell"), "\(path): \(answer)")
                } else {
                    #expect(answer.hasSuffix("Content-Length: 0\r\nConnection: close\r\n\r\n"), "\(path): \(answer)")
                }
            }
            try await RawSocket(port: port).upgrade(path: "/api/echo")
        }
    }

    /// On Hummingbird's own WebSocket server (no `HTTP1HeadNormalizer`), a write that asks for a WebSocket
    /// upgrade is negotiated by running the route with an empty body; Switchboard's route runs nothing for it.
    @Test func aWriteThatAsksForAnUpgradeRunsNothingOnHummingbirdsOwnServer() async throws {
        let configuration = SwitchboardServerConfiguration()
        let api = Self.echoAPI()
        api.register(resource: try InMemoryEntityStore<Superhero>(initial: Superhero.samples))
        let router = Router(context: TrackedContext.self)
        router.addSwitchboard(api, configuration: configuration)
        let server = HTTPServerBuilder.http1WebSocketUpgrade(webSocketRouter: router, configuration: .init(ws: configuration.webSocketConfiguration))
        try await Self.withApplication(router: router, server: server) { port in
            let socket = try RawSocket.sending(
                Self.echoUpgrade.replacingOccurrences(of: "GET /api/echo", with: "DELETE /api/superhero/Name=Batman"), port: port)
            let answer = String(decoding: try await onOwnThread { try socket.readToEnd() }, as: UTF8.self)
            #expect(answer.hasPrefix("HTTP/1.1 400 "), "\(answer)")
            let found = try await RawHTTP.request(port: port, "GET", "/api/superhero/Name=Batman")
            #expect(found.body.contains(#""DataCount": 1"#), "Batman is still there: \(found.body)")
        }
    }

    /// On Switchboard's server, an upgrade after another request of a keep-alive connection (which cannot be
    /// upgraded) is sent to ask again on a new connection: `307` to the same URI, `Connection: close`.
    @Test func anUpgradeLaterOnAConnectionIsSentToANewOne() async throws {
        try await TestServer.with { server in
            let socket = try RawSocket(port: server.port)
            try socket.write(Array("GET /api/echo HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
            #expect(try await onOwnThread { try socket.readResponse() }.hasPrefix("HTTP/1.1 426"))
            try socket.write(Array(Self.echoUpgrade.utf8))
            let response = try await onOwnThread { try socket.readResponse() }
            #expect(response.hasPrefix("HTTP/1.1 307"), "\(response)")
            #expect(RawHTTP.header("Location", in: response) == "/api/echo", "\(response)")
            #expect(RawHTTP.header("Connection", in: response) == "close", "\(response)")
        }
    }

    /// A context of the application's own lets go of each connection once it is upgraded: over 2,000
    /// connections, none is kept.
    @Test func aContextOfYourOwnDoesNotLeak() async throws {
        let configuration = SwitchboardServerConfiguration()
        let router = Router(context: TrackedContext.self)
        router.addSwitchboard(Self.echoAPI(), configuration: configuration)
        try await Self.withApplication(router: router, server: .switchboard(webSocketRouter: router, configuration: configuration)) { port in
            let before = ContextToken.alive.load(ordering: .relaxed)
            for _ in 0..<40 {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<50 {
                        group.addTask {
                            let socket = try RawSocket(port: port)
                            try await socket.upgrade(path: "/api/echo")
                            try socket.write(RawSocket.maskedFrame(opcode: 0x8, payload: [0x03, 0xE8]))
                            _ = try await onOwnThread { try socket.readToEnd() }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            #expect(
                await eventually { ContextToken.alive.load(ordering: .relaxed) <= before },
                "\(ContextToken.alive.load(ordering: .relaxed) - before) contexts kept")
        }
    }

    /// An application whose task is cancelled, rather than shut down gracefully, ends with its idle WebSocket
    /// connections, without `SwitchboardShutdownService` (which closes them itself), over TLS too. A
    /// connection's wait for its end has no cancellation handler of its own (every idle connection's task
    /// would keep its frames): it ends because Hummingbird's WebSocket handler closes a cancelled connection's
    /// input, which ends the connection as a client's leaving does; a TLS handler cannot close input alone,
    /// and the watch then closes the connection whole. Were it not so, the application's task would wait for ever.
    @Test(arguments: [false, true]) func cancellingTheApplicationEndsItsIdleConnections(tls: Bool) async throws {
        var configuration = SwitchboardServerConfiguration()
        let directory = NSTemporaryDirectory() + "switchboard-tls-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var trusted: String?
        if tls {
            let files = try makeSelfSignedCertificate(in: directory, name: "server")
            configuration.tls = try SwitchboardTLS(certificateFile: files.certificate, keyFile: files.key)
            trusted = files.certificate
        }
        let api = Self.echoAPI()
        let router = Router(context: TrackedContext.self)
        router.addSwitchboard(api, configuration: configuration)
        let (ports, sink) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, server: .switchboard(webSocketRouter: router, configuration: configuration),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)), onServerRunning: { sink.yield($0.localAddress?.port ?? 0) },
            logger: TestServer.defaultLogger)
        let running = Task { try await app.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw TestFailure("the application did not start") }
        let client = try await WebSocketTestClient.connect("\(tls ? "wss" : "ws")://127.0.0.1:\(port)/api/echo", trusting: trusted)
        client.send("hi")
        #expect(try await client.receiveText() == "hi")
        #expect(api.connectionCount == 1)
        let ended = Atomic<Bool>(false)
        Task {
            _ = try? await running.value
            ended.store(true, ordering: .releasing)
        }
        running.cancel()
        #expect(await eventually { ended.load(ordering: .acquiring) }, "the application's task did not end")
        #expect(api.connectionCount == 0)
        _ = try await client.closeFrame()
    }

    /// A client's close sent right after the upgrade (as Autobahn's 7.7 cases do) is answered with 1000 or its
    /// own code (RFC 6455 §5.5.1), never taken for the server's shutdown close (1001).
    @Test func aClientsCloseRightAfterTheUpgradeIsEchoed() async throws {
        try await TestServer.with { server in
            for code in [1000, 1002, 3999, 4000] {
                let socket = try RawSocket(port: server.port)
                try await socket.upgrade(path: "/api/echo")
                try socket.write(RawSocket.maskedFrame(opcode: 0x8, payload: [UInt8(code >> 8), UInt8(code & 0xFF)]))
                let answer = try await onOwnThread { try socket.readToEnd() }
                #expect(
                    [1000, code].contains(RawSocket.closeCode(in: answer) ?? 0),
                    "close \(code) answered with \(String(describing: RawSocket.closeCode(in: answer)))")
            }
        }
    }

    /// Why Switchboard's context protocol exists: HummingbirdWebSocket's own route keeps every upgraded
    /// connection's context (see `Docs/KnownIssues.md`). When this fails, the library has fixed it.
    @Test func hummingbirdWebSocketStillKeepsItsContexts() async throws {
        struct PlainContext: RequestContext, WebSocketRequestContext {
            var coreContext: CoreRequestContextStorage
            let webSocket = WebSocketHandlerReference<PlainContext>()
            let token = ContextToken()
            init(source: ApplicationRequestContextSource) { coreContext = .init(source: source) }
        }
        let router = Router(context: PlainContext.self)
        router.ws("/ws") { _, _, _ in }
        try await Self.withApplication(router: router, server: .http1WebSocketUpgrade(webSocketRouter: router)) { port in
            let before = ContextToken.alive.load(ordering: .relaxed)
            for _ in 0..<100 {
                let socket = try RawSocket(port: port)
                try await socket.upgrade(path: "/ws")
                _ = try await onOwnThread { try socket.readToEnd() }
            }
            #expect(ContextToken.alive.load(ordering: .relaxed) - before >= 100)
        }
    }
}
