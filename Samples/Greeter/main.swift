// The README's example: a terminal and an entity resource declared in a few lines, served on their own.
// Run it with `swift run greeter`; it prints a fresh access token, then:
//   swift run switchboard connect --token TOKEN ws://127.0.0.1:8081/api/greeter/tone=loud
//   curl -H 'Authorization: Bearer TOKEN' 'http://127.0.0.1:8081/api/planet/hasrings=true/order_desc=moons'
import Switchboard
import SwitchboardAPIKeys
import SwitchboardHummingbird
import SwitchboardPTY

actor Greeter: TextInputTerminal {
    static let resourceDescription = "Greets whoever types a name"
    enum Tone: String, CaseIterable, PropertyValue { case plain, loud }

    @Property(description: "The greeting word") var greeting = "Hello"
    @Property var tone = Tone.plain
    @Property(readOnly: true, description: "Names greeted so far") var greeted = 0

    func open(_ connection: TerminalConnection) async throws {
        try await connection.send("Type a name, or #SHELL to leave")
    }

    func receive(text: String, from connection: TerminalConnection) async throws {
        greeted += 1
        let line = "\(greeting), \(text)!"
        try await connection.send(tone == .loud ? line.uppercased() : line)
    }
    func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {}
}

// It serves a PTY, which runs commands as this user: every caller needs the token, made anew at each start.
let token = APIKeyAuthenticator.generateKey()
let api = SwitchboardAPI(authenticator: APIKeyAuthenticator(keys: [.init(name: "owner", key: token, rights: .all)]))
api.register { Greeter() }
api.register { Counter() }
api.register(resource: Planets())
let store = try InMemoryEntityStore<Planet>(name: "Greeter.Visit", description: "Planets visited: POST one")
api.register(resource: store)
// A PTY terminal with a program of our own: a Python REPL at ws://127.0.0.1:8081/api/pty (loopback only).
let python = PTYManager(configuration: .init(program: PTYProgram("python3", arguments: ["-q"]), maxTerminals: 4))
python.register(in: api)
try await SwitchboardServer(api: api, host: "127.0.0.1", port: 8081) { port in
    print("Greeter on port \(port). Token: \(token)")
    print("  swift run switchboard connect --token \(token) ws://127.0.0.1:\(port)/api/greeter/tone=loud")
}.run()
