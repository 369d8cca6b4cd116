import Switchboard
import SwitchboardSamples
import SwitchboardTesting
import Testing

@Suite(.timeLimit(.minutes(1)))
struct ShellTests {
    let api: SwitchboardAPI = {
        let api = makeAPI()
        api.register { Echo() }
        return api
    }()

    func openShell(_ uri: String = "/shell") async throws -> TestConnection {
        let client = TestConnection.open(api, uri: uri)
        #expect(try await client.receiveText() == "### Entering the Switchboard shell. Type HELP for commands, or a URI such as /recorder to navigate. ###")
        #expect(try await client.receiveText() == "? <no query>")
        return client
    }

    @Test func navigatesToCanonicalQueriesAndRollsBackOnErrors() async throws {
        let client = try await openShell()
        await client.send("/echo/PREFIX=%3E")
        #expect(try await client.receiveText() == "? /SwitchboardSamples.Echo/Prefix=>")
        await client.send("/ecco")
        #expect(try await client.receiveText().hasPrefix("404: Not found. Could not locate any resource by 'ecco'. Available resources: "))
        #expect(try await client.receiveText() == "? /SwitchboardSamples.Echo/Prefix=>")
        await client.send("GO echo")
        #expect(try await client.receiveText() == "400: Bad request. Shell queries must begin with '/', as in /echo")
        #expect(try await client.receiveText() == "? /SwitchboardSamples.Echo/Prefix=>")
        await client.send("go")
        #expect(try await client.receiveText() == "/SwitchboardSamples.Echo/Prefix=>")
        await client.send("VAR ReformatQueries = false")
        _ = try await client.receiveText()
        _ = try await client.receiveText()
        await client.send("? /echo/prefix=x")
        #expect(try await client.receiveText() == "? /echo/prefix=x")
        await client.close()
    }

    @Test func getEntersTheTerminalAndShellReturnRestoresTheLocation() async throws {
        let client = try await openShell()
        await client.send("/echo/prefix=%3E%20")
        #expect(try await client.receiveText() == "? /SwitchboardSamples.Echo/Prefix=>%20")
        await client.send("")
        await client.send("hello")
        #expect(try await client.receiveText() == "> hello")
        await client.send("#HOME")
        #expect(try await client.receiveText().hasPrefix("### Entering the Switchboard shell"))
        #expect(try await client.receiveText() == "? /SwitchboardSamples.Echo/Prefix=>%20")
        await client.send("GET /recorder/count=2")
        await client.send("#TERMINAL")
        #expect(try await client.receiveText().contains("\"Count\": 2"))
        await client.send("redirect /shell")
        #expect(try await client.receiveText().hasPrefix("### Entering the Switchboard shell"))
        #expect(try await client.receiveText() == "? /Tests.Recorder/Count=2")
        await client.close()
    }

    @Test func autoGetAndAutoOptionsExcludeEachOther() async throws {
        let client = try await openShell()
        await client.send("VAR autooptions = true")
        #expect(try await client.receiveText().contains("\"AutoOptions\": true"))
        #expect(try await client.receiveText() == "? <no query>")
        await client.send("/recorder")
        #expect(try await client.receiveText().contains("\"ResourceKind\": \"TerminalResource\""))
        #expect(try await client.receiveText() == "? /Tests.Recorder")
        await client.send(#"#TERMINAL {"AutoGet": true}"#)
        #expect(try await client.receiveText() == "Terminal updated")
        let properties = try await client.receiveText()
        #expect(properties.contains("\"AutoGet\": true") && properties.contains("\"AutoOptions\": false"))
        await client.send("/echo")
        await client.send("ping")
        #expect(try await client.receiveText() == "ping")
        await client.close()
    }

    @Test func queryInTheURINavigatesImmediately() async throws {
        let client = TestConnection.open(api, uri: "/shell/autoget=true&query=%2Fecho%2Fprefix%3D%2A")
        await client.send("x")
        #expect(try await client.receiveText() == "*x")
        let bad = TestConnection.open(api, uri: "/shell/query=%2Fnothing")
        #expect(try await bad.receiveText().hasPrefix("404: Not found. Could not locate any resource by 'nothing'"))
        #expect(await bad.waitForClose()?.code == .status(404))
        await client.close()
    }

    @Test func varShowsAndSetsPropertiesWithClearErrors() async throws {
        let client = try await openShell()
        await client.send("VAR")
        #expect(
            try await client.receiveText() == """
                {
                  "Query": "",
                  "Unsafe": false,
                  "WriteHeaders": false,
                  "AutoGet": false,
                  "AutoOptions": false,
                  "ReformatQueries": true,
                  "BinaryBodies": false
                }
                """)
        #expect(try await client.receiveText() == "? <no query>")
        let cases = [
            ("VAR unsafe", "400: Bad request. Invalid property assignment syntax. Should be: VAR <property> = <value>"),
            (
                "VAR colour = red",
                "404: Not found. Unknown shell property 'colour'; the properties are Query, Unsafe, WriteHeaders, AutoGet, AutoOptions, ReformatQueries, BinaryBodies. To list them with their values, type VAR"
            ),
            ("VAR unsafe = yes", "400: Bad request. Invalid value yes for property 'Unsafe' of terminal 'Switchboard.Shell': expected true or false"),
            ("VAR query = echo", "400: Bad request. Shell queries must begin with '/', as in /echo"),
            ("VAR query = /nothing", "404: Not found. Could not locate any resource by 'nothing'"),
        ]
        for (command, reply) in cases {
            await client.send(command)
            let line = try await client.receiveText()
            #expect(line.hasPrefix(reply), "\(line)")
            #expect(try await client.receiveText() == "? <no query>")
        }
        await client.send("VAR query = /echo")
        #expect(try await client.receiveText().contains("\"Query\": \"/SwitchboardSamples.Echo\""))
        #expect(try await client.receiveText() == "? /SwitchboardSamples.Echo")
        await client.close()
    }

    @Test func methodsOtherThanGetAndOptionsAreRefusedOnTerminals() async throws {
        let client = try await openShell()
        await client.send("GET")
        #expect(try await client.receiveText() == "400: Bad request. There is no query to run GET on; navigate first, as in /recorder")
        #expect(try await client.receiveText() == "? <no query>")
        await client.send("POST /echo {\"a\":1}")
        #expect(
            try await client.receiveText().hasPrefix("405: Method not allowed. Method 'POST' is not available for terminal resource 'SwitchboardSamples.Echo'"))
        #expect(try await client.receiveText() == "? /SwitchboardSamples.Echo")
        await client.send("{\"a\":1}")
        #expect(try await client.receiveText().hasPrefix("405: Method not allowed. Method 'POST' is not available"))
        _ = try await client.receiveText()
        await client.send("frobnicate now")
        #expect(try await client.receiveText() == "400: Bad request. Unknown command 'frobnicate'. Type HELP for the list of commands")
        #expect(try await client.receiveText() == "? /SwitchboardSamples.Echo")
        await client.send("HELP")
        let help = try await client.receiveText()
        #expect(help.contains("#DISCONNECT") && help.contains("/SwitchboardSamples.Echo - Echoes text"))
        _ = try await client.receiveText()
        await client.send("exit")
        #expect(try await client.receiveText() == "### Closing the Switchboard shell... ###")
        #expect(await client.waitForClose()?.code == .normalClosure)
    }
}
