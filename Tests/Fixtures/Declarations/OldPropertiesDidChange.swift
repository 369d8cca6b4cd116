// expect: type 'Todo' does not conform to protocol 'PropertyCheckingTerminal'
import Switchboard

actor Todo: PropertyCheckingTerminal {
    func open(_ connection: TerminalConnection) async throws {}
    func propertiesDidChange(_ names: [String], on connection: TerminalConnection) async throws {}
    func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {}
}
