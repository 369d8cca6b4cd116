// The example of Docs/TerminalResources.md, built in CI with the Greeter sample.
import Foundation  // for Date
import Switchboard

actor Counter: TextInputTerminal, BinaryInputTerminal, PropertyCheckingTerminal {
    static let resourceDescription = "Counts what you type"

    enum Unit: String, CaseIterable, PropertyValue { case characters, bytes }

    @Property(description: "What to count") var unit = Unit.characters
    @Property(description: "Stop counting after this time") var until: Date? = nil
    @Property(readOnly: true, description: "The total so far") var total = 0

    func open(_ connection: TerminalConnection) async throws {
        try await connection.send("Counting \(unit.rawValue)")
    }

    func receive(text: String, from connection: TerminalConnection) async throws {
        if let until, until < .now { return try await connection.redirectToShell() }
        total += unit == .bytes ? text.utf8.count : text.count
        try await connection.send("\(total)")
    }

    func receive(binary: ByteBuffer, from connection: TerminalConnection) async throws {
        total += binary.readableBytes
        try await connection.send(binary)  // binary goes back as binary
    }

    func propertiesDidChange(_ changes: PropertyChanges, on connection: TerminalConnection) async throws {
        if changes.contains($unit) { total = 0 }  // throw here to refuse the change
    }

    func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {
        // .switched, .disconnected or .shutdown: release what the terminal holds
    }
}
