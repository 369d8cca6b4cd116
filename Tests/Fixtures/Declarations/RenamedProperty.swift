// expect: cannot find '$limt' in scope
import Switchboard

actor Todo: PropertyCheckingTerminal {
    @Property var limit = 10
    func open(_ connection: TerminalConnection) async throws {}
    func propertiesDidChange(_ changes: PropertyChanges, on connection: TerminalConnection) async throws {
        if changes.contains($limt) { throw SwitchboardError(.badRequest, code: .invalidPropertyValue, "No") }
    }
    func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {}
}
