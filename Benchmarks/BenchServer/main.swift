// The servers that `Scripts/bench.py` measures beside `switchboard serve` (Docs/Performance.md):
//
//   BenchServer bare-echo   a bare Hummingbird WebSocket echo at /echo, built from the same package versions as
//                           Switchboard: the ceiling for Switchboard's Echo terminal; `GET /health` answers
//                           `ok`, the ceiling for HTTP requests; /answer answers every message with the three
//                           messages the Shell answers the benchmark's GET with (status line, the same 10 items,
//                           location), made once: the ceiling for Shell GETs on one WebSocket.
//   BenchServer items       Switchboard with `Bench.Item`, 1,000 entities in memory, for the Shell's GET rate over
//                           WebSocket and HTTP; no authentication and no command pacing (loopback only).
//
// Both listen on a free loopback port and print `listening on 127.0.0.1:PORT` to standard error, and both log
// as `switchboard serve` does (`DeferredMetadataLogHandler`, at `info`).
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Switchboard
import SwitchboardHummingbird

/// An entity of the GET benchmark.
struct Item: Codable, Sendable {
    var id: Int
    var name: String
    var group: Int
    var score: Double
    var active: Bool
}

func announce(_ port: Int) {
    FileHandle.standardError.write(Data("listening on 127.0.0.1:\(port)\n".utf8))
}

func runBareEcho() async throws {
    let webSocketRouter = Router(context: BasicWebSocketRequestContext.self)
    webSocketRouter.ws("/echo") { inbound, outbound, _ in
        for try await message in inbound.messages(maxSize: 16 << 20) {
            switch message {
            case .text(let text): try await outbound.write(.text(text))
            case .binary(let bytes): try await outbound.write(.binary(bytes))
            }
        }
    }
    // The Shell's answer to `GET /bench.item//limit=10`, made once by the same API.
    let response = try await makeItemsAPI().execute(RESTRequest(method: .GET, uri: "/bench.item//limit=10"))
    let answer = [response.statusLine, response.bodyText ?? "", "? " + (response.canonicalURI ?? "")]
    webSocketRouter.ws("/answer") { inbound, outbound, _ in
        for try await _ in inbound.messages(maxSize: 16 << 20) {
            for message in answer { try await outbound.write(.text(message)) }
        }
    }
    let router = Router()
    router.get("/health") { _, _ in "ok" }
    let app = Application(
        router: router,
        server: .http1WebSocketUpgrade(webSocketRouter: webSocketRouter),
        configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { announce($0.localAddress?.port ?? 0) })
    try await app.runService()
}

/// The entities of the GET benchmark.
let benchItems = (0..<1000).map { Item(id: $0, name: "item \($0)", group: $0 % 10, score: Double($0) / 7, active: $0 % 3 == 0) }

/// An API with `Bench.Item`, 1,000 entities in memory, and no command pacing.
func makeItemsAPI() throws -> SwitchboardAPI {
    let api = SwitchboardAPI(configuration: .init(shellCommandsPerSecond: 0))
    api.register(resource: try InMemoryEntityStore<Item>(name: "Bench.Item", initial: benchItems))
    return api
}

func runItems() async throws {
    let api = try makeItemsAPI()
    let server = SwitchboardServer(
        api: api, configuration: .init(maxConnections: 20_000, maxConnectionsPerClient: 20_000), host: "127.0.0.1", port: 0,
        onServerRunning: { announce($0) })
    try await server.run()
}

LoggingSystem.bootstrap { label in
    var handler = DeferredMetadataLogHandler.standardError(label: label)
    handler.logLevel = .info
    return handler
}

switch CommandLine.arguments.dropFirst().first {
case "bare-echo": try await runBareEcho()
case "items": try await runItems()
default:
    FileHandle.standardError.write(Data("usage: BenchServer bare-echo | items\n".utf8))
    exit(2)
}
