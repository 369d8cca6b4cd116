// expect: ok
import Switchboard

actor Correct: TextInputTerminal, BinaryInputTerminal, PropertyCheckingTerminal {
    static let resourceDescription = "Declared as the guide says"
    @Property var limit = 10

    func open(_ connection: TerminalConnection) async throws {}
    func receive(text: String, from connection: TerminalConnection) async throws {}
    func receive(binary: ByteBuffer, from connection: TerminalConnection) async throws {}
    func propertiesDidChange(_ changes: PropertyChanges, on connection: TerminalConnection) async throws {
        if changes.contains($limit), limit < 1 { throw SwitchboardError(.badRequest, code: .invalidPropertyValue, "Limit must be 1 or more") }
    }
    func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {}
}
