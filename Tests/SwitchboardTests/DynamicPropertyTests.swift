import Switchboard
import SwitchboardTesting
import Testing

/// A terminal that takes any property: it answers every message with them.
actor Form: TextInputTerminal {
    static var resourceName: String { "Tests.Form" }
    @Property var title = "Untitled"
    @DynamicProperties var fields: JSONObject
    init() {}
    func open(_ connection: TerminalConnection) async throws {}
    func receive(text: String, from connection: TerminalConnection) async throws {
        try await connection.send("\(title): \(JSON.object(fields).compact)")
    }
    func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {}
}

@Suite(.timeLimit(.minutes(1)))
struct DynamicPropertyTests {
    @Test func aTerminalTakesPropertiesItDoesNotDeclare() async throws {
        let api = SwitchboardAPI()
        api.register { Form() }
        let client = TestConnection.open(api, uri: "/form/title=Order&customer=Ada&quantity=3&code='007'&paid=true")
        await client.send("?")
        #expect(try await client.receiveText() == #"Order: {"customer":"Ada","quantity":3,"code":"007","paid":true}"#)
        await client.send(#"#TERMINAL {"Customer": null, "Extra": [1, 2], "TITLE": "Invoice"}"#)
        #expect(try await client.receiveText() == "Terminal updated")
        let shown = try JSON(parsing: try await client.receiveText())
        #expect(shown == ["Title": "Invoice", "quantity": 3, "code": "007", "paid": true, "Extra": [1, 2]])
        await client.send("?")
        #expect(try await client.receiveText() == #"Invoice: {"quantity":3,"code":"007","paid":true,"Extra":[1,2]}"#)
        // A declared property keeps its type.
        await client.send(#"#TERMINAL {"Title": 5}"#)
        #expect(try await client.receiveText().hasPrefix("400: Bad request. Invalid value 5 for property 'Title'"))
        // Bounded: no client can grow a terminal without end.
        let many = (0..<DynamicProperties.limit).map { "\"k\($0)\": \($0)" }.joined(separator: ", ")
        await client.send("#TERMINAL {\(many)}")
        #expect(try await client.receiveText().hasPrefix("400: Bad request. Terminal 'Tests.Form' holds at most 256 properties it does not declare"))
        await client.send("?")
        #expect(try await client.receiveText() == #"Invoice: {"quantity":3,"code":"007","paid":true,"Extra":[1,2]}"#)
        await client.send("#OPTIONS")
        #expect(try await client.receiveText().contains(#""TakesAnyProperty": true"#))
        await client.close()
    }
}
