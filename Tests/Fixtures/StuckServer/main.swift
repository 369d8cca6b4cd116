// A test fixture, not a sample: a server whose `Tests.Spinner` terminal spins on the CPU for ever once it
// receives "spin", so that a test can check that SIGTERM still ends the process in time
// (`SwitchboardServer.run(shutdownTimeout:)`). It prints "port N" once it listens.
import Foundation
import Switchboard
import SwitchboardHummingbird
import Synchronization

actor Spinner: TextInputTerminal {
    static let resourceName = "Tests.Spinner"
    /// Never set: it keeps the loop from being optimised away.
    static let stop = Atomic<Bool>(false)

    func receive(text: String, from connection: TerminalConnection) async throws {
        try await connection.send("spinning")
        while !Self.stop.load(ordering: .relaxed) {}
    }

    func open(_ connection: TerminalConnection) async throws {}
    func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {}
}

let api = SwitchboardAPI()
api.register { Spinner() }
let timeout = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 2
try await SwitchboardServer(api: api, host: "127.0.0.1", port: 0) { port in
    FileHandle.standardOutput.write(Data("port \(port)\n".utf8))
}.run(shutdownTimeout: .seconds(timeout))
