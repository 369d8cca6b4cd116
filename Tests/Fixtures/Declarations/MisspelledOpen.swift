// expect: instance method 'open(connection:)' has different argument labels from those required by protocol 'TerminalResource' ('open')
import Switchboard

actor Todo: TerminalResource {
    func open(connection: TerminalConnection) async throws {}
    func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {}
}
