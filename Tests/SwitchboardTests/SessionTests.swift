import NIOCore
import Switchboard
import SwitchboardTesting
import Testing

@Suite(.serialized, .timeLimit(.minutes(1)))
struct SessionTests {
    let api = makeAPI()

    @Test func opensTheTerminalTheURINamesWithItsAssignments() async throws {
        let client = TestConnection.open(api, uri: "/recorder/count=4&label=hi")
        await client.send("#TERMINAL")
        let json = try JSON(parsing: try await client.receiveText())
        guard case .object(let object) = json else { throw TestConnectionError("not an object") }
        #expect(object["Count"] == .int(4))
        #expect(object["Label"] == "hi")
        #expect(object["Since"] == .null)
        await client.close()
    }

    @Test func terminalCommandUpdatesAllOrNothing() async throws {
        let client = TestConnection.open(api, uri: "/recorder")
        await client.send(#"#terminal {"count": 9, "MODE": "json"}"#)
        #expect(try await client.receiveText() == "Terminal updated")
        #expect(try await client.receiveText().contains("\"Count\": 9"))
        await client.send(#"#TERMINAL {"Count": 1, "Status": "x"}"#)
        #expect(try await client.receiveText() == "400: Bad request. Property 'Status' of terminal 'Tests.Recorder' is read-only")
        await client.send(#"#TERMINAL {"Count": 1, "Bogus": 1}"#)
        #expect(try await client.receiveText().hasPrefix("404: Not found. Unknown property 'Bogus' in terminal 'Tests.Recorder'"))
        await client.send(#"#TERMINAL {"Count": 2, "Label": "invalid"}"#)
        #expect(try await client.receiveText() == "400: Bad request. Label may not be 'invalid'")
        await client.send("#TERMINAL")
        let properties = try await client.receiveText()
        #expect(properties.contains("\"Count\": 9") && properties.contains("\"Label\": \"start\""))
        await client.close()
    }

    @Test(arguments: [
        ("#TERMINAL {", "400: Bad request. JSON syntax error at position 2: expected a member name in double quotes but found end of input"),
        ("#TERMINAL [1]", #"400: Bad request. #TERMINAL takes a JSON object such as {"Flag":false}, but got an array"#),
        ("#INFO 42", "400: Bad request. #INFO takes a JSON object"),
        (#"#INFO {"Host": "x"}"#, "400: Bad request. Profile field 'Host' is read-only; only CustomHeaders can be set"),
        (#"#INFO {"Nope": 1}"#, "404: Not found. Unknown profile field 'Nope'"),
        (#"#INFO {"CustomHeaders": {"Authorization": "x"}}"#, "400: Bad request. Cannot read or write reserved header 'Authorization'"),
        (#"#INFO {"CustomHeaders": {"Sec-WebSocket-Key": "x"}}"#, "400: Bad request. Cannot read or write reserved header"),
        (#"#INFO {"CustomHeaders": {"bad name": "x"}}"#, "400: Bad request. 'bad name' is not a valid header name"),
        (#"#INFO {"CustomHeaders": {"X-A": 1}}"#, "400: Bad request. The value of header 'X-A' must be a string"),
        (#"#INFO {"CustomHeaders": []}"#, "400: Bad request. CustomHeaders must be an object"),
        ("#DISCONNECT now", "400: Bad request. #DISCONNECT takes no argument, but got 'now'"),
        ("#OPTIONS x", "400: Bad request. #OPTIONS takes no argument"),
    ])
    func badGlobalCommandsGetAStatusLineAndTheConnectionStays(command: String, reply: String) async throws {
        let client = TestConnection.open(api, uri: "/recorder")
        await client.send(command)
        let line = try await client.receiveText()
        #expect(line.hasPrefix(reply), "\(line)")
        await client.send("still here")
        #expect(try await client.receiveText() == "got: still here")
        await client.close()
    }

    @Test func infoShowsTheProfileAndUpdatesCustomHeaders() async throws {
        let headers: HTTPFields = [.authorization: "secret", HTTPField.Name("X-Trace")!: "1", .cookie: "c", .secWebSocketKey: "k"]
        let client = TestConnection.open(api, uri: "/recorder", headers: headers)
        await client.send("#INFO")
        guard case .object(let profile) = try JSON(parsing: try await client.receiveText()) else { throw TestConnectionError("no object") }
        #expect(profile.members.map(\.key) == ["Host", "WebSocketId", "IsEncrypted", "ClientIP", "ConnectedAt", "CurrentTerminal", "CustomHeaders"])
        #expect(profile["CurrentTerminal"] == "Tests.Recorder")
        #expect(profile["CustomHeaders"] == .object(["X-Trace": "1"]))
        guard case .string(let connectedAt) = profile["ConnectedAt"] else { throw TestConnectionError("no date") }
        #expect(connectedAt.hasSuffix("Z") && connectedAt.contains("T"))
        await client.send(#"#INFO {"CustomHeaders": {"X-Trace": null, "Accept": "text/plain"}}"#)
        #expect(try await client.receiveText() == "Profile updated")
        #expect(try await client.receiveText().contains("\"CustomHeaders\": {\n    \"Accept\": \"text/plain\"\n  }"))
        await client.close()
    }

    @Test func connectionIDsAreShortAndUnique() async throws {
        var ids: Set<String> = []
        for _ in 0..<20 {
            let client = TestConnection.open(api, uri: "/recorder")
            await client.send("#INFO")
            guard case .object(let profile) = try JSON(parsing: try await client.receiveText()),
                case .string(let id) = profile["WebSocketId"]
            else { throw TestConnectionError("no id") }
            #expect(id.count <= 4)
            ids.insert(id)
            await client.close()
        }
        #expect(ids.count == 20)
    }

    @Test func optionsDescribeTheTerminal() async throws {
        let client = TestConnection.open(api, uri: "/recorder")
        await client.send("#OPTIONS")
        let options = try JSON(parsing: try await client.receiveText())
        guard case .object(let object) = options else { throw TestConnectionError("no object") }
        #expect(object["Resource"] == "Tests.Recorder")
        #expect(object["SupportsTextInput"] == true)
        #expect(object["SupportsBinaryInput"] == false)
        #expect(object["Description"] == "Records and misbehaves on request")
        await client.close()
    }

    @Test func unknownHashWordsGoToTheTerminal() async throws {
        let client = TestConnection.open(api, uri: "/recorder")
        for text in ["#HELP", "#1", "# x", "#"] {
            await client.send(text)
            #expect(try await client.receiveText() == "got: \(text)")
        }
        await client.close()
    }

    @Test func handlerErrorsBecomeStatusLinesAndTheTerminalGoesOn() async throws {
        let client = TestConnection.open(api, uri: "/recorder")
        await client.send("fail")
        #expect(try await client.receiveText().hasPrefix("500: Internal server error. The details are in the server log under error id "))
        await client.send("reject")
        #expect(try await client.receiveText() == "409: Conflict. Not now")
        await client.send(ByteBuffer(string: "bytes"))
        #expect(try await client.receiveText() == "415: Unsupported media type. Terminal 'Tests.Recorder' does not take binary input")
        await client.send("ok")
        #expect(try await client.receiveText() == "got: ok")
        await client.close()
    }

    @Test func globalCommandsAnswerWhileTheTerminalIsBlocked() async throws {
        let client = TestConnection.open(api, uri: "/recorder")
        await client.send("hang")
        await client.send("queued")
        await client.send("#TERMINAL")
        #expect(try await client.receiveText().contains("\"Status\": \"hanging\""))
        let closedBefore = await Journal.shared.count("closed disconnected")
        await client.send("#DISCONNECT")
        #expect(await client.waitForClose() == .init(code: .normalClosure, reason: ""))
        await client.close()
        await Journal.shared.wait(for: "closed disconnected", after: closedBefore)
    }

    @Test func shellCommandInterruptsABusyTerminalAndDropsItsQueuedInput() async throws {
        let client = TestConnection.open(api, uri: "/recorder")
        await client.send("sleep")
        await client.send("never delivered")
        await client.send("#SHELL")
        #expect(try await client.receiveText().hasPrefix("### Entering the Switchboard shell"))
        #expect(try await client.receiveText() == "? <no query>")
        await client.send("#INFO")
        #expect(try await client.receiveText().contains("\"CurrentTerminal\": \"Switchboard.Shell\""))
        await client.close()
    }

    @Test func globalCommandsKeepTheirPlaceAfterEarlierInput() async throws {
        let client = TestConnection.open(api, uri: "/recorder")
        await client.send("one")
        await client.send("two")
        await client.send("#OPTIONS")
        #expect(try await client.receiveText() == "got: one")
        #expect(try await client.receiveText() == "got: two")
        #expect(try await client.receiveText().contains("\"Resource\": \"Tests.Recorder\""))
        await client.close()
    }

    @Test func inputBehindASlowHandlerKeepsItsOrderAndFastInputFollows() async throws {
        // The busy threshold far beyond the pauses: on a loaded machine a 100 ms pause can last past the default
        // 250 ms, and #OPTIONS would then rightly answer before the input queued ahead of it. The hand-over to a
        // new reader still comes after 10 ms.
        let api = SwitchboardAPI(configuration: .init(busyThreshold: .seconds(30)))
        api.register { Recorder() }
        let client = TestConnection.open(api, uri: "/recorder")
        // The reader runs "pause" itself, hands the reading over while it sleeps, and the rest queues behind it.
        for text in ["pause 100", "one", "two", "#OPTIONS", "three"] { await client.send(text) }
        #expect(try await client.receiveText() == "paused")
        #expect(try await client.receiveText() == "got: one")
        #expect(try await client.receiveText() == "got: two")
        #expect(try await client.receiveText().contains("\"Resource\": \"Tests.Recorder\""))
        #expect(try await client.receiveText() == "got: three")
        // Twice more, so that the reading has passed between tasks and back.
        for round in 1...2 {
            await client.send("pause 30")
            await client.send("after \(round)")
            #expect(try await client.receiveText() == "paused")
            #expect(try await client.receiveText() == "got: after \(round)")
        }
        await client.send("#TERMINAL")
        #expect(try await client.receiveText().contains("\"Status\": \"idle\""))
        await client.close()
    }

    @Test func terminalsCanRedirectAndCloseWithTheirOwnCode() async throws {
        let client = TestConnection.open(api, uri: "/recorder")
        let switched = await Journal.shared.count("closed switched")
        await client.send("redirect /nowhere")
        #expect(try await client.receiveText().hasPrefix("404: Not found. Could not locate any resource by 'nowhere'"))
        await client.send("redirect /recorder/label=second")
        await client.send("#TERMINAL")
        #expect(try await client.receiveText().contains("\"Label\": \"second\""))
        await Journal.shared.wait(for: "closed switched", after: switched)
        await client.send("close")
        #expect(await client.waitForClose() == .init(code: .status(409), reason: "bye"))
        await client.close()
    }

    @Test func openFailuresReturnToTheShell() async throws {
        let client = TestConnection.open(api, uri: "/recorder/label=fail-open")
        #expect(try await client.receiveText() == "409: Conflict. Refusing to open")
        #expect(try await client.receiveText().hasPrefix("### Entering the Switchboard shell"))
        await client.close()
    }

    @Test(arguments: [
        ("/nothing", CloseCode(rawValue: 4404), "404: Not found. Could not locate any resource by 'nothing'"),
        ("/recorder/flag=maybe", CloseCode(rawValue: 4400), "400: Bad request. Invalid value maybe for property 'Flag'"),
        ("/recorder/flag!=true", CloseCode(rawValue: 4400), "400: Bad request. Invalid operator '!='"),
        ("/recorder/label=invalid", CloseCode(rawValue: 4400), "400: Bad request. Label may not be 'invalid'"),
        ("/recorder/a/b/c", CloseCode(rawValue: 4400), "400: Bad request. Syntax error"),
    ])
    func badURIsAreAnsweredWithAStatusLineThenA4xxxClose(uri: String, code: CloseCode, line: String) async throws {
        let client = TestConnection.open(api, uri: uri)
        let text = try await client.receiveText()
        #expect(text.hasPrefix(line), "\(text)")
        let close = await client.waitForClose()
        #expect(close?.code == code)
        let reason = close?.reason ?? ""
        #expect(text.hasPrefix(reason.hasSuffix("...") ? String(reason.dropLast(3)) : reason) && reason.hasPrefix(String(line.prefix(20))))
        #expect((close?.reason.utf8.count ?? 999) <= 123)
    }
}
