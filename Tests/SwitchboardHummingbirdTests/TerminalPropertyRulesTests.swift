import Switchboard
import Testing

@testable import SwitchboardTestSupport

/// A terminal with a rule and with properties it does not declare, for the tests through the server.
actor Survey: ValidatingTerminal, TextInputTerminal {
    static var resourceName: String { "Tests.Survey" }
    @Property var maxAnswers = 3
    @DynamicProperties var answers: JSONObject
    init() {}
    func invalidProperties() -> [(property: String, problem: String)] {
        var problems: [(property: String, problem: String)] = []
        if maxAnswers < 1 { problems.append(("MaxAnswers", "must be 1 or more")) }
        if answers.members.count > maxAnswers { problems.append(("Answers", "may be \(maxAnswers) at most")) }
        return problems
    }
    func open(_ connection: TerminalConnection) async throws {}
    func receive(text: String, from connection: TerminalConnection) async throws {
        try await connection.send(JSON.object(answers).compact)
    }
    func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {}
}

@Suite(.timeLimit(.minutes(1)))
struct TerminalPropertyRulesTests {
    @Test func validationAndDynamicPropertiesThroughTheServer() async throws {
        try await TestServer.with(configure: { $0.register { Survey() } }) { server in
            let client = try await WebSocketTestClient.connect(server.base + "/api/tests.survey/color=blue&size=42")
            client.send("?")
            #expect(try await client.receiveText() == #"{"color":"blue","size":42}"#)
            client.send(#"#TERMINAL {"pet": "cat", "car": "none"}"#)
            let refused = try await client.receiveTextAsSent()
            #expect(
                refused.hasPrefix("400: Bad request. Invalid properties of terminal 'Tests.Survey': Answers may be 3 at most (see /Switchboard.Admin.Error/Id=")
            )
            client.send("?")
            #expect(try await client.receiveText() == #"{"color":"blue","size":42}"#)
            try await client.close()
            let closed = try await WebSocketTestClient.connect(server.base + "/api/tests.survey/maxanswers=0")
            #expect(try await closed.receiveText() == "400: Bad request. Invalid properties of terminal 'Tests.Survey': MaxAnswers must be 1 or more")
            #expect(try await closed.closeFrame()?.code == 4400)
        }
    }
}
