import Foundation
import Switchboard
import SwitchboardCSV
import SwitchboardHummingbird
import Testing

@testable import SwitchboardTestSupport

/// JSON Lines, CSV and `single=true`, chosen by `Accept`, over HTTP and through the Shell; read back with
/// Python's `csv` and `json` modules.
@Suite(.timeLimit(.minutes(2)))
struct ResponseFormatTests {
    static let csvToJSON = "import csv, json, sys; print(json.dumps(list(csv.DictReader(sys.stdin))))"
    static let linesToJSON = "import json, sys; print(json.dumps([json.loads(line) for line in sys.stdin]))"

    @Test func csvAndJSONLinesOverHTTP() async throws {
        try await TestServer.with(configure: { $0.register(format: CSVFormat()) }) { server in
            let port = server.port
            let post = try await RawHTTP.request(
                port: port, "POST", "/api/superhero", headers: RESTOverHTTPTests.json,
                body: #"[{"Name": "=HYPERLINK(\"x\")", "Year": 2001, "HasSecretIdentity": false}, "#
                    + #"{"Name": "Quote \"Q\", comma", "Year": 2002, "HasSecretIdentity": false}]"#)
            #expect(post.status == 201)

            let csv = try await RawHTTP.request(
                port: port, "GET", "/api/superhero/year>2000/order_asc=year", headers: ["Accept: text/csv"])
            #expect(csv.status == 200)
            #expect(RawHTTP.header("Content-Type", in: csv.head) == "text/csv; charset=utf-8; header=present")
            #expect(csv.body.hasPrefix("Name,Year,HasSecretIdentity\r\n"))
            // A reader nobody here wrote gets the values back; a formula is defused with a quote.
            let rows = try JSON(parsing: try await python(Self.csvToJSON, input: csv.body))
            #expect(
                rows == [
                    ["Name": "'=HYPERLINK(\"x\")", "Year": "2001", "HasSecretIdentity": "false"],
                    ["Name": "Quote \"Q\", comma", "Year": "2002", "HasSecretIdentity": "false"],
                ])

            // Nested objects become dotted columns, arrays JSON, null an empty field; an empty result is one empty line.
            let nested = try CSVFormat().write([["A": ["B": 1, "C": [1, 2]], "D": nil], ["E": "x"]])
            #expect(String(decoding: nested, as: UTF8.self) == "A.B,A.C,D,E\r\n1,\"[1,2]\",,\r\n,,,x\r\n")
            let empty = try await RawHTTP.request(port: port, "GET", "/api/superhero/year>3000", headers: ["Accept: text/csv"])
            #expect(empty.status == 200 && empty.body == "\r\n")

            let lines = try await RawHTTP.request(
                port: port, "GET", "/api/superhero/year>2000/order_asc=year&select=name", headers: ["Accept: application/x-ndjson"])
            #expect(RawHTTP.header("Content-Type", in: lines.head) == "application/x-ndjson; charset=utf-8")
            #expect(lines.body.split(separator: "\n").count == 2)
            #expect(
                try JSON(parsing: try await python(Self.linesToJSON, input: lines.body))
                    == [["Name": "=HYPERLINK(\"x\")"], ["Name": "Quote \"Q\", comma"]])
            let jsonlines = try await RawHTTP.request(port: port, "GET", "/api/superhero/year=2001", headers: ["Accept: application/jsonlines"])
            #expect(jsonlines.body == #"{"Name":"=HYPERLINK(\"x\")","Year":2001,"HasSecretIdentity":false}"# + "\n")

            // The client's weights decide, then its order; a type nobody answers is skipped for the next one, and
            // `q=0` refuses a type (weights were not read: the first, fourth and fifth got the other type, and
            // `application/json;q=0` got JSON).
            for (accept, type) in [
                ("image/png, text/csv;q=0.9, application/json", "application/json"),
                ("image/png, text/csv;q=0.1, application/json;q=0.05", "text/csv"),
                ("text/csv;q=0.5, application/json; q=0.5", "text/csv"),
                ("application/json; q=0, text/csv", "text/csv"),
                ("text/csv;q=0, */*;q=0.1", "application/json"),
            ] {
                let chosen = try await RawHTTP.request(port: port, "GET", "/api/superhero/year=2001", headers: ["Accept: \(accept)"])
                #expect(RawHTTP.header("Content-Type", in: chosen.head)?.hasPrefix(type) == true, "\(accept): \(chosen.head)")
            }
            let refusedAll = try await RawHTTP.request(port: port, "GET", "/api/superhero/year=2001", headers: ["Accept: application/json;q=0"])
            #expect(refusedAll.status == 406, "\(refusedAll.head)")

            // Changes are written in the format too; errors, counts and OPTIONS stay JSON.
            let deleted = try await RawHTTP.request(
                port: port, "DELETE", "/api/superhero/year>2000/unsafe=true", headers: ["Accept: text/csv"])
            #expect(deleted.status == 200)
            #expect(try JSON(parsing: try await python(Self.csvToJSON, input: deleted.body)).compact.contains("2002"))
            let error = try await RawHTTP.request(port: port, "GET", "/api/superhero/year=old", headers: ["Accept: text/csv"])
            #expect(error.status == 400)
            #expect(RawHTTP.header("Content-Type", in: error.head) == "application/json; charset=utf-8")
            #expect(try JSON(parsing: error.body).compact.contains(#""ErrorCode":"InvalidConditionValue""#))
            let count = try await RawHTTP.request(port: port, "REPORT", "/api/superhero", headers: ["Accept: text/csv"])
            #expect(try JSON(parsing: count.body).compact.contains(#""Count":"#))

            let refused = try await RawHTTP.request(port: port, "GET", "/api/superhero", headers: ["Accept: application/xml"])
            #expect(refused.status == 406)
            #expect(refused.body.contains("this API answers with application/json, application/x-ndjson, text/csv"))
        }
    }

    @Test func singleGivesTheOneEntityOrSaysWhyNot() async throws {
        try await TestServer.with { server in
            let single = ["Accept: application/json; single=true"]
            let one = try await RawHTTP.request(port: server.port, "GET", "/api/superhero/name=Storm/select=name,year", headers: single)
            #expect(one.status == 200)
            #expect(try JSON(parsing: one.body) == ["Name": "Storm", "Year": 1975])
            let none = try await RawHTTP.request(port: server.port, "GET", "/api/superhero/name=Nobody", headers: single)
            #expect(none.status == 404)
            #expect(try JSON(parsing: none.body).compact.contains(#""ErrorCode":"NoMatch""#))
            #expect(none.body.contains("No entity matches /SwitchboardSamples.Superhero/Name=Nobody"), "the query, in canonical form")
            let several = try await RawHTTP.request(port: server.port, "GET", "/api/superhero", headers: single)
            #expect(several.status == 400)
            #expect(several.body.contains("single=true, which needs exactly one"))
            // Without CSV registered, text/csv is not acceptable.
            let csv = try await RawHTTP.request(port: server.port, "GET", "/api/superhero", headers: ["Accept: text/csv"])
            #expect(csv.status == 406)
        }
    }

    /// The messages up to and including the next location line (`? ...`).
    static func untilPrompt(_ client: WebSocketTestClient) async throws -> [String] {
        var messages: [String] = []
        while true {
            let text = try await client.receiveText()
            messages.append(text)
            if text.hasPrefix("? ") { return messages }
        }
    }

    @Test func theShellSendsTheFormatItsAcceptHeaderNames() async throws {
        try await TestServer.with(configure: { $0.register(format: CSVFormat()) }) { server in
            let client = try await ShellRESTTests.openShell(server)
            client.send("HEADER Accept = text/csv")
            _ = try await Self.untilPrompt(client)
            client.send("GET /superhero/name=Storm")
            let csv = try await Self.untilPrompt(client)
            #expect(csv.count == 3)
            ShellRESTTests.expectStatus(csv[0], "200: OK", "1 entities found")
            #expect(try JSON(parsing: try await python(Self.csvToJSON, input: csv[1])) == [["Name": "Storm", "Year": "1975", "HasSecretIdentity": "false"]])
            #expect(csv.last == "? /SwitchboardSamples.Superhero/Name=Storm")
            client.send("HEADER Accept = application/x-ndjson")
            _ = try await Self.untilPrompt(client)
            client.send("GET /superhero/name=Storm/select=name")
            #expect(try await Self.untilPrompt(client).dropFirst().first == #"{"Name":"Storm"}"# + "\n")
            client.send("HEADER Accept = application/xml")
            _ = try await Self.untilPrompt(client)
            client.send("GET")
            #expect(try await Self.untilPrompt(client).first?.hasPrefix("406: Not acceptable") == true)
            try await client.close()
        }
    }
}
