import Switchboard
import SwitchboardTesting
import Testing

/// A terminal with rules that involve several properties.
actor Booking: ValidatingTerminal, TextInputTerminal {
    static var resourceName: String { "Tests.Booking" }
    @Property var guests = 1
    @Property var nights = 1
    @Property var note = ""
    init() {}
    func invalidProperties() -> [(property: String, problem: String)] {
        var problems: [(property: String, problem: String)] = []
        if !(1...8).contains(guests) { problems.append(("Guests", "must be from 1 to 8")) }
        if nights < 1 { problems.append(("Nights", "must be 1 or more")) }
        if guests * nights > 30 { problems.append(("Nights", "times Guests may be 30 at most")) }
        return problems
    }
    func open(_ connection: TerminalConnection) async throws {}
    func receive(text: String, from connection: TerminalConnection) async throws {
        try await connection.send("\(guests) guests, \(nights) nights")
    }
    func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {}
}

@Suite(.timeLimit(.minutes(1)))
struct ValidationTests {
    @Test func everyPropertyInErrorIsNamedAndTheChangeIsUndone() async throws {
        let api = SwitchboardAPI()
        api.register { Booking() }
        let refused = TestConnection.open(api, uri: "/booking/guests=9&nights=0")
        #expect(
            try await refused.receiveText()
                == "400: Bad request. Invalid properties of terminal 'Tests.Booking': Guests must be from 1 to 8; Nights must be 1 or more")
        #expect(await refused.waitForClose()?.code == .status(400))

        let client = TestConnection.open(api, uri: "/booking/guests=2&nights=3")
        await client.send("?")
        #expect(try await client.receiveText() == "2 guests, 3 nights")
        await client.send(#"#TERMINAL {"Guests": 6, "Nights": 6, "Note": "late"}"#)
        #expect(try await client.receiveText() == "400: Bad request. Invalid properties of terminal 'Tests.Booking': Nights times Guests may be 30 at most")
        await client.send("?")
        #expect(try await client.receiveText() == "2 guests, 3 nights")
        await client.send(#"#TERMINAL {"Guests": 5}"#)
        #expect(try await client.receiveText() == "Terminal updated")
        _ = try await client.receiveText()
        await client.send("?")
        #expect(try await client.receiveText() == "5 guests, 3 nights")
        await client.close()

        let error = SwitchboardError(wrapping: InvalidProperties(terminal: "T", problems: [("A", "is wrong"), ("B", "too")]))
        #expect(error.status == 400 && error.code == .invalidPropertyValue)
        #expect(error.body(uri: "/t").compact.contains(#""InvalidProperties":{"A":"is wrong","B":"too"}"#))
    }
}
