import Foundation
import NIOCore
import Switchboard
import SwitchboardHummingbird
import Testing

@testable import SwitchboardTestSupport

/// The Shell's REST commands end to end: a real server, a real WebSocket client.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ShellRESTTests {
    static func openShell(_ server: TestServer, _ path: String = "/api/shell") async throws -> WebSocketTestClient {
        let client = try await WebSocketTestClient.connect(server.base + path)
        #expect(try await client.receiveText() == ServerTests.banner)
        #expect(try await client.receiveText() == "? <no query>")
        return client
    }

    /// The next message, a result body: text by default, binary with `BinaryBodies=true`.
    static func body(_ client: WebSocketTestClient) async throws -> JSON {
        switch await client.receive() {
        case .text(let text)?: return try JSON(parsing: text)
        case .binary(var bytes)?: return try JSON(parsing: bytes.readString(length: bytes.readableBytes) ?? "")
        case nil: throw TestFailure("expected a body, but the connection closed")
        }
    }

    static func names(_ body: JSON) -> [String] {
        let rows: [JSON]
        switch body {
        case .array(let array): rows = array
        case .object(let object): if case .array(let data)? = object["Data"] { rows = data } else { rows = [] }
        default: rows = []
        }
        return rows.compactMap { if case .object(let o) = $0, case .string(let name)? = o["Name"] { name } else { nil } }
    }

    /// Asserts a status line by its start and end (the elapsed time varies).
    static func expectStatus(_ line: String, _ start: String, _ info: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(line.hasPrefix(start + " ("), "\(line)", sourceLocation: sourceLocation)
        if let info { #expect(line.hasSuffix(" ms). " + info), "\(line)", sourceLocation: sourceLocation) }
    }

    @Test func navigateGetPostAndComeBackFromATerminal() async throws {
        try await TestServer.with { server in
            let client = try await Self.openShell(server)
            client.send("/superhero/year>1950")
            #expect(try await client.receiveText() == "? /SwitchboardSamples.Superhero/Year>1950")
            client.send("")
            Self.expectStatus(try await client.receiveText(), "200: OK", "3 entities found")
            #expect(Self.names(try await Self.body(client)) == ["Spider-Man", "Storm", "Deadpool"])
            #expect(try await client.receiveText() == "? /SwitchboardSamples.Superhero/Year>1950")

            client.send(#"{"Name": "Hulk", "Year": 1962, "HasSecretIdentity": false}"#)
            Self.expectStatus(try await client.receiveText(), "201: Created", "1 entities inserted into 'SwitchboardSamples.Superhero'")
            #expect(try await Self.body(client).compact.contains(#""InsertedCount":1"#))
            #expect(try await client.receiveText() == "? /SwitchboardSamples.Superhero/Year>1950")

            client.send(ByteBuffer(string: #"[{"Name": "Thor", "Year": 1962, "HasSecretIdentity": true}]"#))
            Self.expectStatus(try await client.receiveText(), "201: Created", "1 entities inserted into 'SwitchboardSamples.Superhero'")
            _ = try await Self.body(client)
            _ = try await client.receiveText()

            client.send("GET /superhero/name=Thor")
            Self.expectStatus(try await client.receiveText(), "200: OK", "1 entities found")
            #expect(Self.names(try await Self.body(client)) == ["Thor"])
            #expect(try await client.receiveText() == "? /SwitchboardSamples.Superhero/Name=Thor")

            client.send("PUT {\"Year\": 1963}")
            Self.expectStatus(try await client.receiveText(), "200: OK", "1 entities updated in 'SwitchboardSamples.Superhero'")
            _ = try await Self.body(client)
            _ = try await client.receiveText()

            client.send("REPORT /superhero/year>1960")
            Self.expectStatus(try await client.receiveText(), "200: OK")
            #expect(try await Self.body(client).compact.hasPrefix(#"{"Count":5,"#))
            _ = try await client.receiveText()

            client.send("HEAD /superhero/name=Nobody")
            Self.expectStatus(try await client.receiveText(), "204: No content", "No entities found matching request.")
            #expect(try await client.receiveText() == "? /SwitchboardSamples.Superhero/Name=Nobody")

            client.send("OPTIONS /superhero")
            #expect(try await client.receiveText().contains("\"ResourceKind\": \"EntityResource\""))
            #expect(try await client.receiveText() == "? /SwitchboardSamples.Superhero")

            // Into the Echo terminal and back with #SHELL, to the same place.
            client.send("GET /echo")
            client.send("hello")
            #expect(try await client.receiveText() == "hello")
            client.send("#SHELL")
            #expect(try await client.receiveText() == ServerTests.banner)
            #expect(try await client.receiveText() == "? /SwitchboardSamples.Echo")
            client.send("/superhero/name=Storm")
            #expect(try await client.receiveText() == "? /SwitchboardSamples.Superhero/Name=Storm")

            // RESTable drops the connection here; the Shell answers and goes on.
            client.send("GO superhero")
            #expect(try await client.receiveText() == "400: Bad request. Shell queries must begin with '/', as in /superhero")
            #expect(try await client.receiveText() == "? /SwitchboardSamples.Superhero/Name=Storm")
            client.send("/superhero/nosuch=1")
            #expect(try await client.receiveText().hasPrefix("404: Not found. Unknown property 'nosuch' of resource 'SwitchboardSamples.Superhero'"))
            #expect(try await client.receiveText() == "? /SwitchboardSamples.Superhero/Name=Storm", "rolled back")
            client.send("PATCH /superhero/name=Storm [1]")
            Self.expectStatus(try await client.receiveText(), "400: Bad request", "The body is an array; PATCH expects an object")
            _ = try await Self.body(client)
            #expect(try await client.receiveText() == "? /SwitchboardSamples.Superhero/Name=Storm")
            try await client.close()
        }
    }

    @Test func aWebSocketOnAnEntityResourceOpensTheShellThere() async throws {
        try await TestServer.with { server in
            let client = try await WebSocketTestClient.connect(server.base + "/api/superhero/year>1970")
            #expect(try await client.receiveText() == "? /SwitchboardSamples.Superhero/Year>1970")
            client.send("")
            Self.expectStatus(try await client.receiveText(), "200: OK", "2 entities found")
            #expect(Self.names(try await Self.body(client)) == ["Storm", "Deadpool"])
            #expect(try await client.receiveText() == "? /SwitchboardSamples.Superhero/Year>1970")
            client.send("#INFO")
            #expect(try await client.receiveText().contains("\"CurrentTerminal\": \"Switchboard.Shell\""))
            // Bodies are text by default, which every line client shows; binary on request.
            client.send("GET")
            Self.expectStatus(try await client.receiveText(), "200: OK", "2 entities found")
            #expect(try await client.receiveText().hasPrefix("{\n  \"Data\": ["))
            _ = try await client.receiveText()
            client.send("VAR BinaryBodies = true")
            _ = try await client.receiveText()
            _ = try await client.receiveText()
            client.send("GET")
            Self.expectStatus(try await client.receiveText(), "200: OK", "2 entities found")
            guard case .binary(let bytes)? = await client.receive() else { throw TestFailure("expected a binary body") }
            #expect(String(buffer: bytes).hasPrefix("{\n  \"Data\": ["))
            try await client.close()
        }
    }

    @Test func patchAndDeleteOnSeveralEntitiesAskFirst() async throws {
        try await TestServer.with { server in
            let client = try await Self.openShell(server)
            client.send(#"PATCH /superhero/year<1960 {"HasSecretIdentity": false}"#)
            #expect(
                try await client.receiveText()
                    == "This will run PATCH on 3 entities in resource 'SwitchboardSamples.Superhero'. Type 'Y' to continue, 'N' to cancel")
            client.send("maybe")
            #expect(try await client.receiveText() == "Type 'Y' to continue, 'N' to cancel")
            client.send(ByteBuffer(string: "Y"))
            #expect(try await client.receiveText() == "400: Bad request. Binary input cannot answer the confirmation; type 'Y' to continue, 'N' to cancel")
            client.send("#INFO")
            #expect(try await client.receiveText().contains("\"WebSocketId\""), "global commands work while waiting")
            client.send("y")
            Self.expectStatus(try await client.receiveText(), "200: OK", "3 entities updated in 'SwitchboardSamples.Superhero'")
            _ = try await Self.body(client)
            #expect(try await client.receiveText() == "? /SwitchboardSamples.Superhero/Year<1960")

            client.send("DELETE /superhero/hassecretidentity=false")
            #expect(
                try await client.receiveText()
                    == "This will run DELETE on 5 entities in resource 'SwitchboardSamples.Superhero'. Type 'Y' to continue, 'N' to cancel")
            client.send("N")
            #expect(try await client.receiveText() == "Operation cancelled")
            #expect(try await client.receiveText() == "? /SwitchboardSamples.Superhero/HasSecretIdentity=false")
            client.send("REPORT")
            _ = try await client.receiveText()
            #expect(try await Self.body(client).compact.hasPrefix(#"{"Count":5,"#), "nothing was deleted")
            _ = try await client.receiveText()

            client.send("DELETE /superhero/name=Nobody")
            #expect(try await client.receiveText() == "400: Bad request. No entities to run DELETE on")
            _ = try await client.receiveText()
            client.send("DELETE /superhero/name=Storm")
            Self.expectStatus(try await client.receiveText(), "200: OK", "1 entities deleted from 'SwitchboardSamples.Superhero'")
            _ = try await Self.body(client)
            _ = try await client.receiveText()

            // unsafe=true in the URI is the answer already.
            client.send(#"PATCH /superhero/year<1960/unsafe=true {"HasSecretIdentity": true}"#)
            Self.expectStatus(try await client.receiveText(), "200: OK", "3 entities updated in 'SwitchboardSamples.Superhero'")
            _ = try await Self.body(client)
            _ = try await client.receiveText()

            client.send("VAR unsafe = true")
            _ = try await client.receiveText()
            _ = try await client.receiveText()
            // Nothing matching is answered the same with Unsafe on.
            client.send("DELETE /superhero/name=Nobody")
            #expect(try await client.receiveText() == "400: Bad request. No entities to run DELETE on")
            _ = try await client.receiveText()
            client.send("DELETE /superhero/hassecretidentity=false")
            Self.expectStatus(try await client.receiveText(), "200: OK", "1 entities deleted from 'SwitchboardSamples.Superhero'")
            try await client.close()
        }
    }

    @Test func pagingMovesLimitAndOffsetAndGets() async throws {
        try await TestServer.with { server in
            let client = try await Self.openShell(server)
            func page(_ command: String, query: String, names: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws {
                client.send(command)
                Self.expectStatus(try await client.receiveText(), "200: OK", sourceLocation: sourceLocation)
                #expect(Self.names(try await Self.body(client)) == names, sourceLocation: sourceLocation)
                #expect(try await client.receiveText() == "? " + query, sourceLocation: sourceLocation)
            }
            client.send("/superhero//limit=2")
            _ = try await client.receiveText()
            try await page("NEXT", query: "/SwitchboardSamples.Superhero/_/limit=2&offset=2", names: ["Wonder Woman", "Spider-Man"])
            try await page("next", query: "/SwitchboardSamples.Superhero/_/limit=2&offset=4", names: ["Storm", "Deadpool"])
            try await page("PREV 1", query: "/SwitchboardSamples.Superhero/_/limit=1&offset=3", names: ["Spider-Man"])
            try await page("FIRST 3", query: "/SwitchboardSamples.Superhero/_/limit=3", names: ["Superman", "Batman", "Wonder Woman"])
            try await page("LAST", query: "/SwitchboardSamples.Superhero/_/limit=1&offset=-1", names: ["Deadpool"])
            try await page("ALL", query: "/SwitchboardSamples.Superhero", names: ["Superman", "Batman", "Wonder Woman", "Spider-Man", "Storm", "Deadpool"])
            client.send("NEXT")
            #expect(try await client.receiveText() == "400: Bad request. NEXT needs a page size: type NEXT <n>, or navigate to a query with a limit")
            #expect(try await client.receiveText() == "? /SwitchboardSamples.Superhero")
            client.send("PREV 2")
            #expect(try await client.receiveText() == "400: Bad request. This is the first page")
            _ = try await client.receiveText()
            client.send("NEXT zero")
            #expect(try await client.receiveText() == "400: Bad request. NEXT takes a page size, a whole number above 0, but got 'zero'")
            _ = try await client.receiveText()
            client.send("/echo")
            _ = try await client.receiveText()
            client.send("NEXT")
            #expect(
                try await client.receiveText() == "400: Bad request. NEXT pages through entity resources; navigate to one first, as in /superhero//limit=10")
            try await client.close()
        }
    }

    @Test func observeStreamsAndStopsOnShellOrDisconnect() async throws {
        try await TestServer.with { server in
            let client = try await Self.openShell(server)
            client.send("/superhero/year>1960")
            _ = try await client.receiveText()
            client.send("OBSERVE")
            #expect(try await client.receiveText() == "200: OK. Observing /SwitchboardSamples.Superhero/Year>1960; #SHELL stops")
            var seen: [String] = []
            for _ in 0..<3 { seen.append(try await client.receiveText()) }
            #expect(seen.map { $0.contains("\"Name\":") } == [true, true, true])
            // A new entity appears in the stream while it runs.
            let poster = try await RawHTTP.request(
                port: server.port, "POST", "/api/superhero", headers: ["Content-Type: application/json"],
                body: #"{"Name": "Hulk", "Year": 1962, "HasSecretIdentity": false}"#)
            #expect(poster.status == 201)
            #expect(try await client.receiveText() == #"{"Name":"Hulk","Year":1962,"HasSecretIdentity":false}"#)
            client.send("#SHELL")
            #expect(try await client.receiveText() == ServerTests.banner)
            let location = try await client.receiveText()
            #expect(location == "? /SwitchboardSamples.Superhero/Year>1960")
            client.send("OBSERVE 0.2")
            _ = try await client.receiveText()
            for _ in 0..<4 { _ = try await client.receiveText() }
            #expect(try await client.receiveText() == "? /SwitchboardSamples.Superhero/Year>1960", "a timed OBSERVE ends by itself")
            client.send("OBSERVE")
            _ = try await client.receiveText()
            client.send("#DISCONNECT")
            let close = try await client.closeFrame()
            #expect(close?.code == 1000)
            let other = try await Self.openShell(server)
            try await other.close()
        }
    }

    @Test func headersAndWriteHeaders() async throws {
        try await TestServer.with { server in
            let client = try await WebSocketTestClient.connect(server.base + "/api/shell/writeheaders=true&query=%2Fsuperhero%2Fname%3DStorm&autoget=true")
            Self.expectStatus(try await client.receiveText(), "200: OK", "1 entities found")
            let headers = try JSON(parsing: try await client.receiveText())
            guard case .object(let fields) = headers else { throw TestFailure("headers are not an object") }
            #expect(fields["Content-Type"] == "application/json; charset=utf-8")
            #expect(fields["Switchboard-Info"] == "1 entities found")
            _ = try await Self.body(client)
            #expect(try await client.receiveText() == "? /SwitchboardSamples.Superhero/Name=Storm")
            client.send("HEADER Accept = application/json;raw=true")
            #expect(try await client.receiveText().contains("\"Accept\": \"application/json;raw=true\""))
            _ = try await client.receiveText()
            client.send("VAR writeheaders = false")
            _ = try await client.receiveText()
            _ = try await client.receiveText()
            client.send("GET")
            _ = try await client.receiveText()
            #expect(try await Self.body(client) == [["Name": "Storm", "Year": 1975, "HasSecretIdentity": false]])
            _ = try await client.receiveText()
            client.send("HEADER Authorization = x")
            #expect(try await client.receiveText() == "400: Bad request. Cannot read or write reserved header 'Authorization'")
            _ = try await client.receiveText()
            client.send("HEADER Accept")
            #expect(try await client.receiveText() == "400: Bad request. Invalid header syntax. Should be: HEADER <name> = <value> (or null to remove it)")
            _ = try await client.receiveText()
            client.send("HEADER accept = null")
            #expect(try await client.receiveText().contains("Accept") == false)
            try await client.close()
        }
    }

    @Test func adminWebSocketListsConnectionsAndDeleteClosesThem() async throws {
        try await TestServer.with { server in
            let victim = try await WebSocketTestClient.connect(server.base + "/api/echo/prefix=v")
            victim.send("ping")
            #expect(try await victim.receiveText() == "vping")
            let admin = try await Self.openShell(server)
            admin.send("GET /admin.websocket/terminaltype=SwitchboardSamples.Echo")
            Self.expectStatus(try await admin.receiveText(), "200: OK", "1 entities found")
            let listed = try await Self.body(admin)
            #expect(listed.compact.contains(#""Prefix":"v""#))
            #expect(listed.compact.contains(#""IsThis":false"#))
            _ = try await admin.receiveText()
            admin.send("GET /admin.websocket/isthis=true/select=terminaltype")
            _ = try await admin.receiveText()
            #expect(try await Self.body(admin).compact.contains(#""Data":[{"TerminalType":"Switchboard.Shell"}]"#))
            _ = try await admin.receiveText()
            admin.send("DELETE /admin.websocket/terminaltype=SwitchboardSamples.Echo")
            Self.expectStatus(try await admin.receiveText(), "200: OK", "1 entities deleted from 'Switchboard.Admin.WebSocket'")
            let close = try await victim.closeFrame()
            #expect(close?.code == 1000)
            #expect(close?.reason == "Closed by an administrator")
            try await admin.close()
        }
    }

    @Test func consoleFeedsEventsOfOthersButNotItself() async throws {
        try await TestServer.with { server in
            let console = try await WebSocketTestClient.connect(server.base + "/api/admin.console/includecontent=true")
            #expect(try await console.receiveText().hasPrefix("### Switchboard network console ###"))
            console.send("OPEN")
            #expect(try await console.receiveText() == "> Status: OPEN")
            let echo = try await WebSocketTestClient.connect(server.base + "/api/echo")
            echo.send("hello")
            #expect(try await echo.receiveText() == "hello")
            let opened = try await console.receiveText()
            #expect(opened.hasPrefix("++ "))
            #expect(opened.hasSuffix(" WebSocket opened | Connection: 127.0.0.1 | Content: /echo"))
            #expect(try await console.receiveText().hasSuffix("Received 5 bytes | Connection: 127.0.0.1 | Content: hello"))
            #expect(try await console.receiveText().hasSuffix("Sent 5 bytes | Connection: 127.0.0.1 | Content: hello"))
            // A long message's content is cut at 4 KiB, at a character's start and before the word the cut falls
            // in (it could be the start of a key), and says how long it was.
            let long = "é" + String(repeating: "x", count: 4094) + "ü" + String(repeating: "y", count: 100_000)
            let word = String(repeating: "w ", count: 2040) + String(repeating: "k", count: 100)
            echo.send(word)
            #expect(try await echo.receiveText() == word)
            #expect(try await console.receiveText().hasSuffix(" | Content: " + String(repeating: "w ", count: 2040) + "… (4180 bytes)"))
            _ = try await console.receiveText()
            echo.send(long)
            #expect(try await echo.receiveText() == long)
            let cut = "Content: é" + String(repeating: "x", count: 4094) + "… (104098 bytes)"
            let received = try await console.receiveText()
            #expect(received.hasSuffix("Received 104098 bytes | Connection: 127.0.0.1 | " + cut), "\(received.prefix(120)) … \(received.suffix(60))")
            #expect(try await console.receiveText().hasSuffix("Sent 104098 bytes | Connection: 127.0.0.1 | " + cut))
            // One that may show headers (as HEADERS and #INFO answer) is not cut, where a value could be left.
            let headers = #"{"Headers": {"X-Api-Key": ""# + String(repeating: "s", count: 5000) + #""}}"#
            echo.send(headers)
            #expect(try await echo.receiveText() == headers)
            let hidden = "Received 5030 bytes | Connection: 127.0.0.1 | Content: (5030 bytes that hold headers: not shown)"
            #expect(try await console.receiveText().hasSuffix(hidden))
            _ = try await console.receiveText()
            try await echo.close()
            #expect(try await console.receiveText().hasSuffix("WebSocket closed | Connection: 127.0.0.1"))
            _ = try await RawHTTP.request(port: server.port, "GET", "/api/superhero/name=Storm")
            let http = try await console.receiveText()
            #expect(http.hasPrefix("=> "))
            #expect(http.contains("GET /api/superhero/name=Storm → 200 ("))
            console.send("#TERMINAL {\"Format\": \"json\"}")
            #expect(try await console.receiveText() == "Terminal updated")
            _ = try await console.receiveText()
            _ = try await RawHTTP.request(port: server.port, "HEAD", "/api/superhero")
            let json = try JSON(parsing: try await console.receiveText())
            guard case .object(let event) = json else { throw TestFailure("not an object") }
            #expect(event["Type"] == "HTTPRequestResponse")
            console.send("PAUSE")
            #expect(try await console.receiveText() == "> Status: PAUSED")
            console.send("nonsense")
            #expect(try await console.receiveText() == "400: Bad request. Unknown command 'nonsense'; the commands are OPEN, PAUSE and CLOSE")
            console.send("CLOSE")
            #expect(try await console.receiveText() == "> Status: CLOSED")
            #expect(try await console.receiveText() == ServerTests.banner)
            try await console.close()
        }
    }
}
