// An application of its own that mounts Switchboard beside its routes: the way to embed it that
// `Docs/Embedding.md` walks through. Run it with `swift run TodoApp [port]` and connect with
// `switchboard connect ws://127.0.0.1:8080/api/todo`.
import Foundation
import Hummingbird
import Switchboard
import SwitchboardHummingbird

let api = SwitchboardAPI()
api.register { Todo() }
api.register(resource: try InMemoryEntityStore<Chore>(description: "Chores, by owner"))

let configuration = SwitchboardServerConfiguration()
let router = Router(context: AppRequestContext.self)
// The application's own routes, `/` among them: Switchboard takes only what is below `/api`.
router.get("/") { _, _ in "The Todo app. Its API is at /api.\n" }
router.get("/health") { _, _ in "ok\n" }
router.addSwitchboard(api, configuration: configuration)

let port = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 8080
let app = Application(
    router: router,
    // The WebSocket-capable server, with the same configuration as the routes.
    server: .switchboard(webSocketRouter: router, configuration: configuration),
    configuration: .init(address: .hostname("127.0.0.1", port: port)),
    onServerRunning: { channel in
        FileHandle.standardOutput.write(Data("TodoApp listening on port \(channel.localAddress?.port ?? 0)\n".utf8))
    }
)
// Hummingbird's usual way to run an application: SIGTERM and SIGINT close every WebSocket with 1001 and
// every terminal with `.shutdown` before the process ends.
try await app.runService()
