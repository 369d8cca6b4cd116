import Switchboard
import SwitchboardTesting
import Testing

/// A terminal of the application's whose short name is also a built-in resource's.
actor Console: TextInputTerminal {
    static let resourceName = "MyApp.Console"
    func open(_ connection: TerminalConnection) async throws { try await connection.send("my console") }
    func receive(text: String, from connection: TerminalConnection) async throws {}
    func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {}
}

/// An entity of the application's, for the Shell's examples.
struct Chore: Codable, Sendable {
    var title: String
}

/// Every caller is one whose only right is opening `MyApp.Console`.
struct ConsoleOnlyAuthenticator: Authenticator {
    func identity(forKey key: String?) async throws(SwitchboardError) -> AccessIdentity {
        AccessIdentity(name: "console-only", rights: AccessRights([.init(resources: ["MyApp.Console"], methods: [.GET])]))
    }
}

/// A terminal of the application's that the caller above may not use.
actor Vault: TerminalResource {
    static let resourceName = "MyApp.Vault"
    func open(_ connection: TerminalConnection) async throws {}
    func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {}
}

@Suite(.timeLimit(.minutes(1)))
struct ResourceNamingTests {
    /// A short name shared with a built-in resource names the application's; the built-in stays reachable by
    /// a longer name.
    @Test func anApplicationsResourceWinsItsShortName() async throws {
        let api = SwitchboardAPI()
        api.register { Console() }
        #expect(try api.resource(named: "console").name == "MyApp.Console")
        #expect(try api.resource(named: "admin.console").name == "Switchboard.Admin.Console")
        let client = TestConnection.open(api, uri: "/console")
        #expect(try await client.receiveText() == "my console")
        await client.close()
        // Two resources of the application's with one short name stay ambiguous.
        api.register { OtherRecorder() }
        api.register { Recorder() }
        #expect(throws: SwitchboardError.self) { try api.resource(named: "recorder") }
    }

    /// The Shell's banner and HELP name what the API has, not the samples.
    @Test func theShellsExamplesNameWhatIsRegistered() async throws {
        let bare = SwitchboardAPI()
        let first = TestConnection.open(bare, uri: "/")
        #expect(try await first.receiveText().contains("a URI such as /availableresource to navigate"))
        await first.close()

        let api = SwitchboardAPI()
        api.register { Console() }
        api.register(resource: try InMemoryEntityStore<Chore>(name: "MyApp.Chore"))
        let client = TestConnection.open(api, uri: "/")
        #expect(try await client.receiveText().contains("a URI such as /console to navigate"))
        _ = try await client.receiveText()  // the location
        await client.send("HELP")
        let help = try await client.receiveText()
        #expect(help.contains("e.g. /chore//limit=10&offset=10"), "\(help)")
        #expect(!help.contains("superhero") && !help.contains("/echo"), "\(help)")
        await client.close()
    }

    /// The examples and HELP's resource list name only resources the caller may use.
    @Test func theShellsExamplesNameNothingTheCallerMayNotUse() async throws {
        let api = SwitchboardAPI(authenticator: ConsoleOnlyAuthenticator())
        api.register { Vault() }
        api.register { Console() }
        let client = TestConnection.open(api, uri: "/")
        #expect(try await client.receiveText().contains("a URI such as /console to navigate"))
        _ = try await client.receiveText()  // the location
        await client.send("HELP")
        let help = try await client.receiveText()
        #expect(help.contains("/MyApp.Console") && !help.contains("Vault"), "\(help)")
        await client.close()
    }
}
