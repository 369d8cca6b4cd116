import Foundation
import Switchboard
import SwitchboardAPIKeys
import SwitchboardHummingbird
import Testing

@testable import SwitchboardTestSupport

/// `Switchboard.Admin.Resource`, `Switchboard.Admin.Schema` and the Shell's `SCHEMA`.
@Suite(.timeLimit(.minutes(2)))
struct IntrospectionTests {
    static let raw = ["Accept: application/json;raw=true"]

    @Test func adminResourceListsEveryResourceWithKindMethodsAndViews() async throws {
        try await TestServer.with { server in
            let answer = try await RawHTTP.request(port: server.port, "GET", "/api/switchboard.admin.resource/kind=EntityResource", headers: Self.raw)
            #expect(answer.status == 200)
            guard case .array(let rows) = try JSON(parsing: answer.body) else { throw TestFailure(answer.body) }
            let heroes = try #require(rows.first { $0.compact.contains(#""Name":"SwitchboardSamples.Superhero""#) })
            #expect(heroes.compact.contains(#""Methods":["GET","POST","PATCH","PUT","DELETE","REPORT","HEAD","OPTIONS"]"#))
            #expect(heroes.compact.contains(#""Views":["#) && !heroes.compact.contains(#""Views":[]"#))
            #expect(rows.allSatisfy { $0.compact.contains(#""Kind":"EntityResource""#) })
            let terminals = try await RawHTTP.request(
                port: server.port, "GET", "/api/switchboard.admin.resource/kind=TerminalResource&name=Switchboard.Shell", headers: Self.raw)
            #expect(try JSON(parsing: terminals.body).compact.contains(#""Methods":["GET","OPTIONS"]"#))
        }
    }

    @Test func adminSchemaResolvesResourceNamesAsURIsDo() async throws {
        try await TestServer.with { server in
            let heroes = try await RawHTTP.request(port: server.port, "GET", "/api/admin.schema/resource=superhero", headers: Self.raw)
            #expect(heroes.status == 200)
            #expect(
                try JSON(parsing: heroes.body) == [
                    [
                        "Resource": "SwitchboardSamples.Superhero", "Kind": "EntityResource",
                        // A JSON value's keys come out sorted (as every free-form JSON value of an entity does).
                        "Properties": ["HasSecretIdentity": "Bool", "Name": "String", "Year": "Int"],
                    ]
                ])
            let echo = try await RawHTTP.request(port: server.port, "GET", "/api/admin.schema/resource=echo/select=properties", headers: Self.raw)
            #expect(try JSON(parsing: echo.body) == [["Properties": ["MessagesReceived": "Int", "Prefix": "String"]]])
            let unknown = try await RawHTTP.request(port: server.port, "GET", "/api/admin.schema/resource=nosuch")
            #expect(unknown.status == 404)
            #expect(unknown.body.contains("Could not locate any resource by 'nosuch'"))
            let all = try await RawHTTP.request(port: server.port, "REPORT", "/api/admin.schema")
            let resources = try await RawHTTP.request(port: server.port, "REPORT", "/api/admin.resource")
            #expect(try JSON(parsing: all.body).compact.prefix(12) == JSON(parsing: resources.body).compact.prefix(12))
        }
    }

    @Test func theShellShowsTheSchemaToWhoeverMaySeeTheResource() async throws {
        let alice = "alice-key-0123456789abcdef"
        let keys = APIKeyAuthenticator(keys: [
            .init(
                name: "alice", key: alice,
                rights: AccessRights([.init(resources: ["SwitchboardSamples.Superhero", "Switchboard.Shell", "SwitchboardSamples.Echo"], methods: [.GET])]))
        ])
        try await TestServer.with(authenticator: keys) { server in
            let shell = try await WebSocketTestClient.connect(server.base + "/api/shell", headers: [("Authorization", "Bearer \(alice)")])
            _ = try await ResponseFormatTests.untilPrompt(shell)
            shell.send("SCHEMA")
            #expect(try await ResponseFormatTests.untilPrompt(shell).first?.hasPrefix("400: Bad request. There is no resource to show the schema of") == true)
            shell.send("/superhero")
            _ = try await ResponseFormatTests.untilPrompt(shell)
            shell.send("schema")
            let lines = try await ResponseFormatTests.untilPrompt(shell)
            #expect(lines.count == 3)
            #expect(lines.first == "200: OK. The properties of 'SwitchboardSamples.Superhero' and their types")
            #expect(try JSON(parsing: lines[1]) == ["Name": "String", "Year": "Int", "HasSecretIdentity": "Bool"])
            shell.send("/echo")
            _ = try await ResponseFormatTests.untilPrompt(shell)
            shell.send("SCHEMA")
            #expect(try JSON(parsing: try await ResponseFormatTests.untilPrompt(shell)[1]) == ["Prefix": "String", "MessagesReceived": "Int"])
            // The administrative listings are not hers.
            shell.send("GET /switchboard.admin.schema")
            let refused = try await ResponseFormatTests.untilPrompt(shell)
            #expect(refused.first == "403: Forbidden. The key 'alice' may not GET 'Switchboard.Admin.Schema'", "\(refused)")
            try await shell.close()
        }
    }
}
