// expect: instance method 'receive(_:from:)' has different argument labels from those required by protocol 'TextInputTerminal' ('receive(text:from:)')
import Switchboard

actor Todo: TextInputTerminal {
    func open(_ connection: TerminalConnection) async throws {}
    func receive(_ text: String, from connection: TerminalConnection) async throws {}
    func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {}
}
