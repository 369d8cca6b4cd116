import Switchboard
import SwitchboardSamples
import SwitchboardTesting
import Testing

/// The command-terminal and feed-terminal templates, through their samples.
@Suite(.timeLimit(.minutes(1)))
struct TerminalTemplateTests {
    static func makeAPI() -> SwitchboardAPI {
        let api = SwitchboardAPI()
        api.register { Dice() }
        api.register { Ticker() }
        return api
    }

    @Test func aCommandTerminalListsRunsAndRefusesCommands() async throws {
        let api = Self.makeAPI()
        let client = TestConnection.open(api, uri: "/dice")
        let list = try await client.receiveText()
        #expect(
            list == """
                ### SwitchboardSamples.Dice ###

                Commands:
                  roll     Rolls dice: roll [sides, 6 by default] [count, 1 by default]
                  history  Lists the rolls so far
                  clear    Forgets the rolls
                  help     Prints this list
                  cancel   Returns to the Shell
                Type a command to continue, 'help' to print commands or 'cancel' to return to the shell
                """)
        await client.send("ROLL 1 3")
        #expect(try await client.receiveText() == "1 1 1")
        await client.send("history")
        #expect(try await client.receiveText() == "1 1 1")
        await client.send("roll 6 2 9")
        #expect(try await client.receiveText() == "400: Bad request. Command 'roll' takes at most 2 arguments, but got 3")
        await client.send("clear now")
        #expect(try await client.receiveText() == "400: Bad request. Command 'clear' takes no arguments, but got 1")
        await client.send("roll many")
        #expect(try await client.receiveText() == "400: Bad request. 'many' is not a number from 1 to 1000")
        await client.send("frobnicate")
        #expect(try await client.receiveText() == "400: Bad request. Unknown command 'frobnicate'; type 'help' for the commands")
        await client.send("   ")
        await client.send("help")
        #expect(try await client.receiveText() == list)
        await client.send("#TERMINAL")
        #expect(try await client.receiveText().contains(#""Silent": false"#))
        await client.send("cancel")
        #expect(try await client.receiveText().hasPrefix("### Entering the Switchboard shell"))
        await client.close()

        let silent = TestConnection.open(api, uri: "/dice/silent=true")
        await silent.send("clear")
        #expect(try await silent.receiveText() == "Cleared")
        await silent.close()
    }

    @Test func aFeedTerminalOpensPausesAndCloses() async throws {
        let api = Self.makeAPI()
        let client = TestConnection.open(api, uri: "/ticker/interval=100")
        #expect(
            try await client.receiveText() == """
                ### Ticker ###
                The time (UTC), every 100 ms while the feed is open.
                > Status: PAUSED
                > OPEN starts the feed, PAUSE pauses it, CLOSE returns to the Shell
                """)
        await client.send("open")
        #expect(try await client.receiveText() == "> Status: OPEN")
        #expect(try await client.receiveText().hasPrefix("20"))
        #expect(try await client.receiveText().hasPrefix("20"))
        await client.send("PAUSE")
        // A line on its way when the feed paused may still come first.
        var line = try await client.receiveText()
        if line.hasPrefix("20") { line = try await client.receiveText() }
        #expect(line == "> Status: PAUSED")
        await client.send("louder")
        #expect(try await client.receiveText() == "400: Bad request. Unknown command 'louder'; the commands are OPEN, PAUSE and CLOSE")
        await client.send(#"#TERMINAL {"Status": "OPEN"}"#)
        #expect(try await client.receiveText() == "Terminal updated")
        await client.send("CLOSE")
        var closing = try await client.receiveText()
        while closing != "> Status: CLOSED" { closing = try await client.receiveText() }
        #expect(try await client.receiveText().hasPrefix("### Entering the Switchboard shell"))
        await client.close()
    }
}
