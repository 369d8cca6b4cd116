import Switchboard
import SwitchboardTesting
import Testing

/// A terminal that only sends: it conforms to no input protocol.
actor Announcer: TerminalResource {
    static let resourceName = "Tests.Announcer"
    func open(_ connection: TerminalConnection) async throws { try await connection.send("listening only") }
    func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {}
}

/// What a terminal takes comes from its conformances, and `#OPTIONS` says the same as what happens.
@Suite(.timeLimit(.minutes(1)))
struct InputKindTests {
    @Test func optionsAndInputAgreeForEachKind() async throws {
        let api = SwitchboardAPI()
        api.register { Announcer() }
        api.register { Recorder() }
        for (uri, text, binary) in [("/announcer", false, false), ("/recorder", true, false)] {
            let connection = TestConnection.open(api, uri: uri)
            if uri == "/announcer" { _ = try await connection.receiveText() }
            await connection.send("#OPTIONS")
            let options = try await connection.receiveText()
            #expect(options.contains("\"SupportsTextInput\": \(text)"), "\(uri): \(options)")
            #expect(options.contains("\"SupportsBinaryInput\": \(binary)"), "\(uri): \(options)")
            await connection.send(ByteBuffer(string: "bytes"))
            #expect(try await connection.receiveText().hasPrefix("415: Unsupported media type. Terminal"))
            if !text {
                await connection.send("words")
                #expect(try await connection.receiveText() == "415: Unsupported media type. Terminal 'Tests.Announcer' does not take text input")
            }
            await connection.close()
        }
    }
}
