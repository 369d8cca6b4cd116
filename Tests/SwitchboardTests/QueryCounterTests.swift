import Switchboard
import SwitchboardSamples
import SwitchboardTesting
import Testing

/// The sample that writes a terminal like the Shell, on the public API: resolve, REPORT, rights.
@Suite(.timeLimit(.minutes(1)))
struct QueryCounterTests {
    @Test func countsWhatAURISelectsAndRefusesTerminals() async throws {
        let api = SwitchboardAPI()
        api.register { QueryCounter() }
        api.register { Echo() }
        api.register(resource: try InMemoryEntityStore<Superhero>(views: Superhero.views, initial: Superhero.samples))
        let client = TestConnection.open(api, uri: "/querycounter")
        await client.send("/superhero/year>1950")
        let expected = await api.execute(RESTRequest(method: .REPORT, uri: "/superhero/year>1950")).entityCount
        #expect(try await client.receiveText() == "\(expected ?? -1) entities in SwitchboardSamples.Superhero/Year>1950")
        await client.send("/echo")
        #expect(try await client.receiveText() == "400: Bad request. '/echo' names a terminal, not entities")
        await client.send("/superhero/nosuch=1")
        #expect(
            try await client.receiveText()
                == "404: Not found. Unknown property 'nosuch' of resource 'SwitchboardSamples.Superhero'; the properties are Name, Year, HasSecretIdentity")
        await client.close()
    }
}
