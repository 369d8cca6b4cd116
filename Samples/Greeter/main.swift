// The README's example: a terminal declared in a few lines, served on its own.
// Run it with `swift run greeter`, then `swift run switchboard connect ws://127.0.0.1:8081/api/greeter/tone=loud`.
import Switchboard
import SwitchboardHummingbird

actor Greeter: TerminalResource {
    static let resourceDescription: String? = "Greets whoever types a name"
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
}

let api = SwitchboardAPI()
api.register { Greeter() }
api.register { Counter() }
try await SwitchboardServer(api: api, host: "127.0.0.1", port: 8081).run()
