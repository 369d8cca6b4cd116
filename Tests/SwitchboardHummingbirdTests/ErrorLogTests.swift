import Foundation
import Switchboard
import SwitchboardAPIKeys
import SwitchboardHummingbird
import Testing

@testable import SwitchboardTestSupport

/// A terminal whose messages are private, and which quotes its input in its errors (as a login prompt might).
actor PasswordPrompt: TextInputTerminal {
    static var resourceName: String { "Tests.PasswordPrompt" }
    static var messagesArePrivate: Bool { true }
    init() {}
    func receive(text: String, from connection: TerminalConnection) async throws {
        throw SwitchboardError(.forbidden, code: .forbidden, "Wrong password '\(text)'")
    }
    func open(_ connection: TerminalConnection) async throws {}
    func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {}
}

/// `Switchboard.Admin.Error`: every error answered names its entry; the entries hold no keys, bodies or
/// private input; administrators see all of them, other callers their own.
@Suite(.timeLimit(.minutes(2)))
struct ErrorLogTests {
    static let aliceKey = "alice-key-0123456789abcdef"
    static let adminKey = "admin-key-0123456789abcdef"
    static let keys = APIKeyAuthenticator(
        keys: [
            .init(
                name: "alice", key: aliceKey,
                rights: AccessRights([
                    .init(resources: ["SwitchboardSamples.Superhero", "Switchboard.Shell", "Tests.PasswordPrompt"], methods: [.GET]),
                    .init(resources: ["Switchboard.Admin.Error"], methods: [.GET, .DELETE]),
                ])),
            .init(name: "admin", key: adminKey, rights: .all),
        ])

    static func entries(_ port: Int, key: String, _ uri: String = "/api/switchboard.admin.error") async throws -> [JSONObject] {
        let answer = try await RawHTTP.request(port: port, "GET", uri, headers: ["Authorization: Bearer \(key)", "Accept: application/json;raw=true"])
        guard case .array(let rows) = try JSON(parsing: answer.body) else { throw TestFailure("not a list: \(answer.body)") }
        return rows.compactMap { if case .object(let object) = $0 { object } else { nil } }
    }

    @Test func everyErrorNamesItsEntryAndTheEntryKeepsNoSecret() async throws {
        try await TestServer.with(authenticator: Self.keys, configure: { $0.register { PasswordPrompt() } }) { server in
            let port = server.port
            // Over HTTP, with the key in the URI: the header names the entry; the entry has the URI without the key.
            let bad = try await RawHTTP.request(port: port, "GET", "/api(\(Self.aliceKey))/superhero/year=old")
            #expect(bad.status == 400)
            let reference = try #require(RawHTTP.header("Switchboard-Error", in: bad.head))
            #expect(reference.hasPrefix("/Switchboard.Admin.Error/Id="))
            // A body is never kept, even when the request fails because of it.
            let body = try await RawHTTP.request(
                port: port, "POST", "/api/superhero", headers: ["Authorization: Bearer \(Self.adminKey)", "Content-Type: application/json"],
                body: #"{"Name": "secret-body-text""#)
            #expect(body.status == 400)
            // Nor a value of it that the message quotes (a password a resource's validation refused), over
            // HTTP and from the Shell; the client itself is told what it sent.
            let quoted = try await RawHTTP.request(
                port: port, "POST", "/api/superhero", headers: ["Authorization: Bearer \(Self.adminKey)", "Content-Type: application/json"],
                body: #"{"Name": "x", "Year": "secret-value-in-a-body"}"#)
            #expect(quoted.status == 400 && quoted.body.contains(#"Invalid value \"secret-value-in-a-body\" for property 'Year'"#))
            let adminShell = try await WebSocketTestClient.connect(server.base + "/api/shell", headers: [("Authorization", "Bearer \(Self.adminKey)")])
            _ = try await adminShell.receiveText()
            _ = try await adminShell.receiveText()
            adminShell.send(#"POST /superhero {"Name": 31415926, "Year": 1}"#)
            #expect(try await adminShell.receiveTextAsSent().contains("Invalid value 31415926 for property 'Name'"))
            try await adminShell.close()

            // Through the Shell, as a status line.
            let shell = try await WebSocketTestClient.connect(server.base + "/api/shell", headers: [("Authorization", "Bearer \(Self.aliceKey)")])
            _ = try await shell.receiveText()
            _ = try await shell.receiveText()
            shell.send("FROBNICATE")
            let line = try await shell.receiveTextAsSent()
            #expect(line.hasPrefix("400: Bad request. Unknown command 'FROBNICATE'"))
            let shellReference = try #require(line.split(separator: "(see ").last.map { String($0.dropLast()) })
            #expect(shellReference.hasPrefix("/Switchboard.Admin.Error/Id="))
            #expect(try await shell.receiveText() == "? <no query>")
            // The entry the line names can be read with that URI, from the Shell too.
            shell.send("GET \(shellReference)")
            ShellRESTTests.expectStatus(try await shell.receiveText(), "200: OK", "1 entities found")
            let read = try JSON(parsing: try await shell.receiveText()).compact
            #expect(read.contains(#""ErrorCode":"UnknownCommand""#) && read.contains(#""Caller":"alice""#))
            #expect(read.contains(#""Method":"WebSocket","Uri":"Switchboard.Shell""#))
            try await shell.close()

            // A private terminal's errors are logged without their message (it quotes the input).
            let prompt = try await WebSocketTestClient.connect(
                server.base + "/api/tests.passwordprompt", headers: [("Authorization", "Bearer \(Self.aliceKey)")])
            prompt.send("hunter2")
            let refused = try await prompt.receiveTextAsSent()
            #expect(refused.hasPrefix("403: Forbidden. Wrong password 'hunter2' (see /Switchboard.Admin.Error/Id="))
            try await prompt.close()

            let all = try await Self.entries(port, key: Self.adminKey)
            let text = JSON.array(all.map { .object($0) }).compact
            #expect(!text.contains(Self.aliceKey) && !text.contains(Self.adminKey))
            #expect(!text.contains("secret-body-text") && !text.contains("hunter2"))
            #expect(!text.contains("secret-value-in-a-body") && !text.contains("31415926"))
            #expect(text.contains(#""Message":"Invalid value (a value of the body) for property 'Year' of resource"#))
            #expect(text.contains(#""Message":"Invalid value (a value of the body) for property 'Name' of resource"#))
            #expect(text.contains(#""Uri":"/superhero/year=old""#))
            #expect(text.contains(#""Message":"(private: the terminal's messages are not logged)""#))
            #expect(Set(all.compactMap { if case .string(let name)? = $0["Caller"] { name } else { nil } }) == ["alice", "admin"])
            let ids = all.compactMap { if case .int(let id)? = $0["Id"] { id } else { nil } }
            #expect(ids == ids.sorted() && Set(ids).count == ids.count)

            // Alice sees her own entries only, and may forget them; the admin's stay.
            let hers = try await Self.entries(port, key: Self.aliceKey)
            #expect(!hers.isEmpty && hers.allSatisfy { $0["Caller"] == "alice" })
            let forget = try await RawHTTP.request(
                port: port, "DELETE", "/api/switchboard.admin.error//unsafe=true", headers: ["Authorization: Bearer \(Self.aliceKey)"])
            #expect(forget.status == 200)
            #expect(try await Self.entries(port, key: Self.aliceKey).isEmpty)
            #expect(try await Self.entries(port, key: Self.adminKey).contains { $0["Caller"] == "admin" })
        }
    }

    @Test func theLogKeepsTheLastEntriesOnlyAndCanBeOff() async throws {
        try await TestServer.with(api: .init(errorLogSize: 3)) { server in
            for index in 1...5 {
                _ = try await RawHTTP.request(port: server.port, "GET", "/api/superhero/year=x\(index)")
            }
            let uris = try await Self.entries(server.port, key: "none").compactMap { if case .string(let uri)? = $0["Uri"] { uri } else { nil } }
            #expect(uris == ["/superhero/year=x3", "/superhero/year=x4", "/superhero/year=x5"])
        }
        try await TestServer.with(api: .init(errorLogSize: 0)) { server in
            let bad = try await RawHTTP.request(port: server.port, "GET", "/api/superhero/year=old")
            #expect(bad.status == 400 && RawHTTP.header("Switchboard-Error", in: bad.head) == nil)
            #expect(try await Self.entries(server.port, key: "none").isEmpty)
        }
    }
}
