// expect: type 'Todo' does not conform to protocol 'TerminalResource'
import Switchboard

actor Todo: TerminalResource {
    func open(_ connection: TerminalConnection) async throws {}
    func close(_ reason: TerminalCloseReason) async {}
}
