import Foundation
import NIOCore
import Switchboard
import SwitchboardHummingbird
import Testing

@testable import SwitchboardTestSupport

/// Every method over real HTTP, against a real server: the REST layer as curl sees it.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct RESTOverHTTPTests {
    static let json = ["Content-Type: application/json"]

    static func names(_ body: String) throws -> [String] {
        guard case .object(let object) = try JSON(parsing: body), case .array(let rows)? = object["Data"] else { return [] }
        return rows.compactMap { row in
            guard case .object(let entity) = row, case .string(let name)? = entity["Name"] else { return nil }
            return name
        }
    }

    @Test func everyMethodOverHTTP() async throws {
        try await TestServer.with { server in
            let port = server.port
            let root = try await RawHTTP.request(port: port, "GET", "/api")
            #expect(root.status == 200)
            #expect(root.body.contains("\"Name\": \"SwitchboardSamples.Superhero\""))
            #expect(root.body.contains("\"Kind\": \"EntityResource\""))

            let get = try await RawHTTP.request(port: port, "GET", "/api/superhero/year>1950/order_desc=year")
            #expect(get.status == 200)
            #expect(try Self.names(get.body) == ["Deadpool", "Storm", "Spider-Man"])
            #expect(RawHTTP.header("Content-Type", in: get.head) == "application/json; charset=utf-8")
            #expect(RawHTTP.header("Switchboard-Info", in: get.head) == "3 entities found")
            #expect(RawHTTP.header("Switchboard-Elapsed-Ms", in: get.head).flatMap(Double.init) != nil)
            #expect(RawHTTP.header("Server", in: get.head) == nil, "no Server field names the software")

            let encoded = try await RawHTTP.request(port: port, "GET", "/api/superhero/year%3E1950&name!=Storm")
            #expect(try Self.names(encoded.body) == ["Spider-Man", "Deadpool"])

            let post = try await RawHTTP.request(
                port: port, "POST", "/api/superhero", headers: ["Content-Type: application/json"],
                body: #"{"Name": "Hulk", "Year": 1962, "HasSecretIdentity": false}"#)
            #expect(post.status == 201)
            #expect(RawHTTP.header("Switchboard-Info", in: post.head) == "1 entities inserted into 'SwitchboardSamples.Superhero'")
            #expect(post.body.contains("\"InsertedCount\": 1"))

            let curlStyle = try await RawHTTP.request(
                port: port, "POST", "/api/superhero", headers: ["Content-Type: application/x-www-form-urlencoded"],
                body: #"[{"Name": "Thor", "Year": 1962, "HasSecretIdentity": true}]"#)
            #expect(curlStyle.status == 415, "a form encoding is what a cross-site form sends: refused")
            #expect(curlStyle.body.contains("-H 'Content-Type: application/json'"))
            let thor = try await RawHTTP.request(
                port: port, "POST", "/api/superhero", headers: ["Content-Type: application/json"],
                body: #"[{"Name": "Thor", "Year": 1962, "HasSecretIdentity": true}]"#)
            #expect(thor.status == 201)

            let ambiguous = try await RawHTTP.request(port: port, "PATCH", "/api/superhero/year=1962", headers: Self.json, body: #"{"Year": 1963}"#)
            #expect(ambiguous.status == 400)
            #expect(ambiguous.body.contains("\"ErrorCode\": \"AmbiguousMatch\""))
            let patch = try await RawHTTP.request(port: port, "PATCH", "/api/superhero/year=1962/unsafe=true", headers: Self.json, body: #"{"Year": 1963}"#)
            #expect(patch.status == 200)
            #expect(RawHTTP.header("Switchboard-Info", in: patch.head) == "3 entities updated in 'SwitchboardSamples.Superhero'")

            let putNew = try await RawHTTP.request(
                port: port, "PUT", "/api/superhero/name=Vision", headers: Self.json, body: #"{"Name": "Vision", "Year": 1968, "HasSecretIdentity": false}"#)
            #expect(putNew.status == 201)
            let putSame = try await RawHTTP.request(port: port, "PUT", "/api/superhero/name=Vision", headers: Self.json, body: #"{"Year": 1969}"#)
            #expect(putSame.status == 200)

            let report = try await RawHTTP.request(port: port, "REPORT", "/api/superhero/year>1960")
            #expect(report.status == 200)
            #expect(try JSON(parsing: report.body).compact.hasPrefix(#"{"Count":6,"#))

            let head = try await RawHTTP.request(port: port, "HEAD", "/api/superhero/name=Nobody")
            #expect(head.status == 204)
            #expect(head.body.isEmpty)
            #expect(RawHTTP.header("Switchboard-Info", in: head.head) == "No entities found matching request.")

            let delete = try await RawHTTP.request(port: port, "DELETE", "/api/superhero/year=1963/unsafe=true")
            #expect(delete.status == 200)
            #expect(RawHTTP.header("Switchboard-Info", in: delete.head) == "3 entities deleted from 'SwitchboardSamples.Superhero'")

            let options = try await RawHTTP.request(port: port, "OPTIONS", "/api/superhero")
            #expect(options.status == 200)
            #expect(try JSON(parsing: options.body).compact.contains(#""Methods":["GET","POST","PATCH","PUT","DELETE","REPORT","HEAD","OPTIONS"]"#))

            let raw = try await RawHTTP.request(
                port: port, "GET", "/api/superhero/name=Storm/select=name,year", headers: ["Accept: application/json;raw=true"])
            #expect(try JSON(parsing: raw.body) == [["Name": "Storm", "Year": 1975]])
        }
    }

    @Test func safePostOverHTTPAndThroughTheShell() async throws {
        try await TestServer.with { server in
            let posted = try await RawHTTP.request(
                port: server.port, "POST", "/api/superhero//safepost=name", headers: Self.json,
                body: #"[{"Name": "Storm", "Year": 1976, "HasSecretIdentity": true}, "#
                    + #"{"Name": "Rogue", "Year": 1981, "HasSecretIdentity": false}]"#)
            #expect(posted.status == 201)
            #expect(RawHTTP.header("Switchboard-Info", in: posted.head) == "Updated 1 and then inserted 1 entities in resource 'SwitchboardSamples.Superhero'")
            let shell = try await ShellRESTTests.openShell(server)
            shell.send(#"POST /superhero//safepost=name {"Name": "Rogue", "Year": 1982, "HasSecretIdentity": false}"#)
            ShellRESTTests.expectStatus(
                try await shell.receiveText(), "200: OK", "Updated 1 and then inserted 0 entities in resource 'SwitchboardSamples.Superhero'")
            _ = try await shell.receiveText()
            _ = try await shell.receiveText()
            try await shell.close()
            let rogue = try await RawHTTP.request(
                port: server.port, "GET", "/api/superhero/name=Rogue/select=year", headers: ["Accept: application/json;raw=true"])
            #expect(try JSON(parsing: rogue.body) == [["Year": 1982]])
        }
    }

    @Test(arguments: [
        ("GET", "/api/superhero", ["Accept: text/html"], nil as String?, 406, "NotAcceptable"),
        ("POST", "/api/superhero", ["Content-Type: application/xml"], "<hero/>", 415, "UnsupportedInput"),
        ("POST", "/api/superhero", ["Content-Type: application/json"], #"{"Name": "#, 400, "JsonSyntaxError"),
        ("POST", "/api/superhero", ["Content-Type: application/json"], #"{"Name": "X"}"#, 400, "InvalidEntity"),
        ("POST", "/api/superhero", [], #"{"Name": "X"}"#, 415, "UnsupportedInput"),
        ("POST", "/api/superhero", ["Content-Type: text/plain"], #"{"Name": "X"}"#, 415, "UnsupportedInput"),
        ("POST", "/api/superhero", [], nil, 400, "InvalidInput"),
        ("POST", "/api/superhero", [], String(repeating: " ", count: 5000), 413, "InvalidInput"),
        // A compressed body (curl --compressed does not compress requests; clients that do send this field).
        ("POST", "/api/superhero", ["Content-Type: application/json", "Content-Encoding: gzip"], "\u{1F}\u{8B}\u{08}", 415, "UnsupportedInput"),
        ("GET", "/api/superheroes", [], nil, 404, "UnknownResource"),
        ("GET", "/api/superhero/cape=red", [], nil, 404, "UnknownProperty"),
        ("GET", "/api/superhero/year=old", [], nil, 400, "InvalidConditionValue"),
        ("GET", "/api/superhero//limit=many", [], nil, 400, "InvalidMetaCondition"),
        ("GET", "/api/superhero/a/b/c", [], nil, 400, "InvalidUriSyntax"),
        ("POST", "/api/availableresource", ["Content-Type: application/json"], "{}", 405, "MethodNotAllowed"),
        ("DELETE", "/api/echo", [], nil, 405, "MethodNotAllowed"),
        ("GET", "/api/echo", [], nil, 426, "UpgradeRequired"),
        // Limits: answered before any store sees the query.
        ("GET", "/api/superhero//limit=100000000", [], nil, 400, "InvalidMetaCondition"),
        ("GET", "/api/superhero/" + Array(repeating: "year>1", count: 101).joined(separator: "&"), [], nil, 400, "InvalidConditionSyntax"),
    ])
    func badRequestsGetAJSONError(
        method: String, path: String, headers: [String], body: String?, status: Int, code: String
    ) async throws {
        try await TestServer.with(configuration: .init(maxBodySize: 4096)) { server in
            let response = try await RawHTTP.request(port: server.port, method, path, headers: headers, body: body)
            #expect(response.status == status)
            let json = try JSON(parsing: response.body)
            guard case .object(let object) = json else { throw TestFailure("no JSON object: \(response.body)") }
            #expect(object["Status"] == "fail")
            #expect(object["StatusCode"] == .int(status))
            #expect(object["ErrorCode"] == .string(code))
            let after = try await RawHTTP.request(port: server.port, "REPORT", "/api/superhero")
            #expect(after.body.contains("\"Count\": 6"), "nothing changed and the server still answers")
        }
    }
}

extension RESTOverHTTPTests {
    /// A body of 100,000 members (close to the 4 MiB limit) is parsed and answered, not held for minutes,
    /// and the server goes on serving. Parsing used to be quadratic in the number of members.
    @Test(.timeLimit(.minutes(1))) func aHundredThousandMemberBodyIsAnswered() async throws {
        try await TestServer.with { server in
            var body = #"{"Name": "Big", "Year": 2000, "HasSecretIdentity": true"#
            for index in 0..<100_000 { body += #","extra\#(index)": "\#(String(repeating: "v", count: 20))""# }
            body += "}"
            #expect(body.utf8.count > 3_500_000)
            let answer = try await RawHTTP.request(
                port: server.port, "POST", "/api/superhero", headers: Self.json, body: body)
            #expect(answer.status == 400)
            #expect(answer.body.contains("extra0"))
            #expect(try await RawHTTP.request(port: server.port, "REPORT", "/api/superhero").status == 200)
        }
    }
}

extension RESTOverHTTPTests {
    /// GETs with and without a body, pipelined on one connection: a GET whose head announces no body is answered
    /// without reading one, a GET that announces one (by length or chunked) still has it read and checked, and
    /// every request is answered once, in order: a body that looks like a request is never taken for one.
    @Test func pipelinedGetsWithAndWithoutBodiesAreEachAnsweredOnce() async throws {
        try await TestServer.with { server in
            let page = "/api/superhero//limit=1"
            let smuggled = "GET /api/superhero HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            let chunk = String(smuggled.utf8.count, radix: 16)
            let requests = [
                "GET \(page) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n"
                    + #"{"ignored": true}"#,
                "GET \(page) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: \(smuggled.utf8.count)\r\n\r\n"
                    + smuggled,
                "GET \(page) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                "GET \(page) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "\(chunk)\r\n\(smuggled)\r\n0\r\n\r\n",
                "GET \(page) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n",
                "HEAD \(page) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                "GET \(page) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
            ]
            let socket = try RawSocket(port: server.port)
            try socket.write(Array(requests.joined().utf8))
            let answer = String(decoding: try await onOwnThread { try socket.readToEnd() }, as: UTF8.self)
            // A status line follows the previous answer's body at once, without a line break of its own.
            let statuses = answer.matches(of: #/HTTP/1\.1 ([0-9]{3}) /#).map { String($0.output.1) }
            #expect(statuses == ["200", "415", "200", "415", "200", "200", "200"], "\(answer)")
            #expect(answer.components(separatedBy: "\"Name\": ").count - 1 == 4, "one hero in each GET answered 200")
        }
    }
}

extension RESTOverHTTPTests {
    static let curlAvailable = isInstalled("curl")

    /// A client that sends `Expect: 100-continue` waits for `100 Continue` before it sends its body: it gets it
    /// once its key is checked, sends the body, gets the answer, and keeps the connection. Hummingbird writes
    /// no interim responses, and such a client waited a second (curl's default) for one, then sent the body
    /// anyway.
    @Test func aClientThatAwaits100ContinueGetsItThenSendsItsBody() async throws {
        try await TestServer.with(authenticator: SecurityTests.keys()) { server in
            let socket = try RawSocket(port: server.port)
            socket.setReceiveTimeout(seconds: 20)
            let body = #"{"Name": "Continued", "Year": 2001, "HasSecretIdentity": false}"#
            let head =
                "POST /api/superhero HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(SecurityTests.bobKey)\r\n"
                + "Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
            try socket.write(Array(head.utf8))
            // Nothing of the body is sent until the interim answer has come.
            let interim = try await onOwnThread { try socket.readHead() }
            #expect(interim == "HTTP/1.1 100 Continue\r\n\r\n")
            try socket.write(Array(body.utf8))
            let answer = try await onOwnThread { try socket.readResponse() }
            #expect(answer.hasPrefix("HTTP/1.1 201"), "\(answer.prefix(200))")
            #expect(answer.contains("\"Name\": \"Continued\""))
            // The same connection takes the next request.
            try socket.write(
                Array("GET /api/superhero/name=Continued HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(SecurityTests.bobKey)\r\n\r\n".utf8))
            let next = try await onOwnThread { try socket.readResponse() }
            #expect(next.hasPrefix("HTTP/1.1 200"), "\(next.prefix(200))")
            #expect(next.contains("\"Year\": 2001"))
        }
    }

    /// The same through curl, which sends `Expect: 100-continue` for bodies over 1 MiB (or when told to): it
    /// reports the interim `100 Continue` and the `201`, over one connection. Without the interim answer curl
    /// sends the body after a second and reports only the `201`.
    @Test(.enabled(if: curlAvailable, "needs curl (.ci/run installs it)"))
    func curlGets100ContinueForItsUpload() async throws {
        try await TestServer.with(authenticator: SecurityTests.keys()) { server in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-continue-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            // 1.3 MB: 20,000 heroes, which curl uploads with `Expect: 100-continue` of its own accord.
            let heroes = (0..<20_000).map { #"{"Name": "Upload\#($0)", "Year": 2002, "HasSecretIdentity": true}"# }
            let file = directory.appendingPathComponent("heroes.json")
            try Data(("[" + heroes.joined(separator: ",") + "]").utf8).write(to: file)
            let (status, log) = try await runToEnd([
                "curl", "--silent", "--show-error", "--verbose", "--output", "/dev/null", "--write-out", "\nanswered %{http_code} on %{num_connects}",
                "-H", "Authorization: Bearer \(SecurityTests.bobKey)", "-H", "Content-Type: application/json",
                "--data-binary", "@\(file.path)", "http://127.0.0.1:\(server.port)/api/superhero",
            ])
            #expect(status == 0, "\(log)")
            #expect(log.hasSuffix("\nanswered 201 on 1"), "\(log)")
            #expect(log.contains("> Expect: 100-continue"), "\(log)")
            #expect(log.contains("< HTTP/1.1 100 Continue"), "\(log)")
            let count = try await RawHTTP.request(
                port: server.port, "REPORT", "/api/superhero/year=2002", headers: ["Authorization: Bearer \(SecurityTests.bobKey)"])
            #expect(count.body.contains("\"Count\": 20000"), "\(count.body)")
        }
    }

    /// An answer that needs no body is given without `100 Continue`, so the client sends none: a wrong key,
    /// and a body its `Content-Length` says is over the limit. Since the client may send its body after such
    /// an answer or never, the connection ends with the answer rather than wait for a body that is not
    /// coming. Without `Expect`, a body over the limit by its `Content-Length` is refused before any of it
    /// is read.
    @Test func answersThatNeedNoBodyComeWithout100ContinueAndEndTheConnection() async throws {
        let configuration = SwitchboardServerConfiguration(maxBodySize: 1024, idleTimeout: .seconds(120))
        try await TestServer.with(configuration: configuration, authenticator: SecurityTests.keys()) { server in
            let requests = [
                ("Authorization: Bearer wrong-key\r\nExpect: 100-continue\r\nContent-Length: 100", "401"),
                ("Authorization: Bearer \(SecurityTests.bobKey)\r\nExpect: 100-continue\r\nContent-Length: 2048", "413"),
                ("Authorization: Bearer \(SecurityTests.bobKey)\r\nContent-Length: 2048", "413"),
            ]
            for (fields, status) in requests {
                let socket = try RawSocket.sending(
                    "POST /api/superhero HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\(fields)\r\n\r\n", port: server.port)
                let answer = String(decoding: try await onOwnThread { try socket.readToEnd() }, as: UTF8.self)
                #expect(answer.hasPrefix("HTTP/1.1 \(status) "), "\(fields): \(answer.prefix(200))")
                #expect(answer.lowercased().contains("connection: close"), "\(fields): \(answer.prefix(300))")
                #expect(!answer.contains("100 Continue"))
                #expect(socket.peerClosed, "\(fields): the connection ended")
            }
            // A wrong key without `Expect`: the body comes with the head, is read, and the connection is kept.
            let socket = try RawSocket(port: server.port)
            socket.setReceiveTimeout(seconds: 20)
            let request =
                "POST /api/superhero HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer wrong-key\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
            try socket.write(Array((request + "GET /api/superhero HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(SecurityTests.bobKey)\r\n\r\n").utf8))
            let refused = try await onOwnThread { try socket.readResponse() }
            #expect(refused.hasPrefix("HTTP/1.1 401"))
            let served = try await onOwnThread { try socket.readResponse() }
            #expect(served.hasPrefix("HTTP/1.1 200"), "\(served.prefix(200))")
        }
    }
}

extension RESTOverHTTPTests {
    /// A `HEAD` that finds entities is answered with the fields a `GET` would have, its type and length among
    /// them (RFC 9110 §9.3.2), and no body: it said `Content-Length: 0`, which a `HEAD` answer may only say
    /// when the `GET`'s body is empty. In NDJSON, which carries no time, the lengths are the same to the byte.
    @Test func headIsAnsweredWithTheFieldsOfAGetAndNoBody() async throws {
        try await TestServer.with { server in
            for accept in ["application/json", "application/x-ndjson"] {
                let get = try await RawHTTP.request(port: server.port, "GET", "/api/superhero//limit=2", headers: ["Accept: \(accept)"])
                // The HEAD and a GET right behind it: the GET's answer must follow the HEAD's head at once.
                let socket = try RawSocket.sending(
                    ("HEAD /api/superhero//limit=2 HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: \(accept)\r\n\r\n"
                        + "GET /api/superhero//limit=2 HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: \(accept)\r\n\r\n"), port: server.port)
                let head = try await onOwnThread { try socket.readHead() }
                let next = try await onOwnThread { try socket.readResponse() }
                #expect(head.hasPrefix("HTTP/1.1 200"), "\(head)")
                #expect(RawHTTP.header("Content-Type", in: head) == RawHTTP.header("Content-Type", in: get.head), "\(head)")
                #expect(RawHTTP.header("Switchboard-Info", in: head) == "2 entities found")
                let length = try #require(RawHTTP.header("Content-Length", in: head).flatMap { Int($0) }, "\(head)")
                if accept == "application/x-ndjson" {
                    #expect(length == get.body.utf8.count, "\(head)")
                } else {
                    // The JSON page says how long the request took, in a number whose digits vary.
                    #expect(abs(length - get.body.utf8.count) < 8, "\(head) against \(get.body.utf8.count) bytes")
                }
                #expect(next.hasPrefix("HTTP/1.1 200"), "no body between: \(next.prefix(100))")
            }
        }
    }
}

extension RESTOverHTTPTests {
    /// A `405` has the `Allow` field RFC 9110 §15.5.6 requires: the methods of the resource the URI names, for
    /// an entity resource and a terminal.
    @Test(arguments: [
        ("DELETE", "/api/availableresource", "GET, REPORT, HEAD, OPTIONS"),
        ("POST", "/api/echo", "GET, HEAD, OPTIONS"),
    ])
    func aMethodNotAllowedSaysWhichMethodsAre(method: String, path: String, allow: String) async throws {
        try await TestServer.with { server in
            let answer = try await RawHTTP.request(port: server.port, method, path, headers: Self.json, body: method == "POST" ? "{}" : nil)
            #expect(answer.status == 405, "\(answer.head)")
            #expect(RawHTTP.header("Allow", in: answer.head) == allow, "\(answer.head)")
        }
    }

    /// A method the REST layer does not know is answered `501` with the methods it knows, and the connection
    /// serves the next request; below the root it got the router's empty `404`. A `CONNECT`'s answer, which
    /// NIO sends without a `Content-Length` (it frames every answer to a `CONNECT` as bodiless), ends the
    /// connection, below the root or anywhere else: curl read the router's `404` until the idle timeout.
    @Test func unknownMethodsAreNotImplementedAndAConnectsAnswerEndsItsConnection() async throws {
        try await TestServer.with(configuration: .init(idleTimeout: .seconds(120))) { server in
            for method in ["PROPFIND", "TRACE", "MKCOL"] {
                let socket = try RawSocket.sending(
                    ("\(method) /api/superhero HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                        + "GET /api/superhero//limit=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), port: server.port)
                let refused = try await onOwnThread { try socket.readResponse() }
                #expect(refused.hasPrefix("HTTP/1.1 501 "), "\(method): \(refused.prefix(200))")
                #expect(refused.contains(#""ErrorCode": "MethodNotImplemented""#), "\(refused)")
                #expect(refused.contains("the methods are GET, POST, PUT, PATCH, DELETE, REPORT, HEAD, OPTIONS"), "\(refused)")
                let served = try await onOwnThread { try socket.readResponse() }
                #expect(served.hasPrefix("HTTP/1.1 200 "), "\(method), then GET: \(served.prefix(200))")
            }
            for (target, status) in [("/api/superhero", "501"), ("example.com:443", "404"), ("/elsewhere", "404")] {
                let socket = try RawSocket.sending("CONNECT \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", port: server.port)
                let answer = String(decoding: try await onOwnThread { try socket.readToEnd() }, as: UTF8.self)
                #expect(answer.hasPrefix("HTTP/1.1 \(status) "), "CONNECT \(target): \(answer.prefix(200))")
                #expect(answer.lowercased().contains("connection: close"), "CONNECT \(target): \(answer)")
                #expect(socket.peerClosed, "CONNECT \(target): the connection ended")
            }
            // On a later request below the API root too (a connection's first is `HTTP1HeadNormalizer`'s).
            let later = try RawSocket.sending(
                "GET /api/superhero//limit=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nCONNECT /api/superhero HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                port: server.port)
            #expect(try await onOwnThread { try later.readResponse() }.hasPrefix("HTTP/1.1 200 "))
            let answer = String(decoding: try await onOwnThread { try later.readToEnd() }, as: UTF8.self)
            #expect(answer.hasPrefix("HTTP/1.1 501 ") && answer.lowercased().contains("connection: close"), "later CONNECT: \(answer.prefix(200))")
            #expect(later.peerClosed, "later CONNECT: the connection ended")
        }
    }

    /// A write that also asks for a WebSocket upgrade (`DELETE` with `Upgrade: websocket`; RFC 6455 opens a
    /// WebSocket with `GET` only). It used to run inside the upgrade's negotiation, with an empty body, and
    /// its client got HummingbirdWebSocket's empty `400`: the `DELETE` had run, the client was told it had
    /// failed. On a connection's first request it is now served as the plain request it also is, with its
    /// body, and its answer ends the connection; on a later request it runs nothing.
    @Test func aWriteThatAsksForAWebSocketIsServedAsTheRequestItIsOrNotAtAll() async throws {
        let upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        try await TestServer.with(configuration: .init(idleTimeout: .seconds(120))) { server in
            func count(_ name: String) async throws -> Int? {
                let body = try await RawHTTP.request(port: server.port, "GET", "/api/superhero/Name=\(name)").body
                return body.split(separator: "\n").first { $0.contains(#""DataCount": "#) }.flatMap { Int($0.filter(\.isNumber)) }
            }
            let deletion = try RawSocket.sending(
                "DELETE /api/superhero/Name=Batman HTTP/1.1\r\nHost: 127.0.0.1\r\n\(upgrade)\r\n", port: server.port)
            let deleted = String(decoding: try await onOwnThread { try deletion.readToEnd() }, as: UTF8.self)
            #expect(deleted.hasPrefix("HTTP/1.1 200 "), "\(deleted)")
            #expect(deleted.contains(#""DeletedCount": 1"#), "\(deleted)")
            #expect(deleted.lowercased().contains("connection: close"), "\(deleted)")
            #expect(try await count("Batman") == 0)

            let body = #"{"Name": "Zed", "Year": 2026, "HasSecretIdentity": false}"#
            let insertion = try RawSocket.sending(
                "POST /api/superhero HTTP/1.1\r\nHost: 127.0.0.1\r\n\(upgrade)Content-Type: application/json\r\n"
                    + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)", port: server.port)
            let inserted = String(decoding: try await onOwnThread { try insertion.readToEnd() }, as: UTF8.self)
            #expect(inserted.hasPrefix("HTTP/1.1 201 "), "the body was read: \(inserted)")
            #expect(try await count("Zed") == 1)

            // Later on a keep-alive connection: Hummingbird sends `websocket` to a new connection (`307`), and
            // Switchboard's route refuses any other spelling; neither runs the `DELETE`.
            for spelling in ["websocket", "WebSocket"] {
                let later = try RawSocket.sending(
                    "GET /api/superhero//limit=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                        + "DELETE /api/superhero/Name=Storm HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        + upgrade.replacingOccurrences(of: "websocket", with: spelling) + "\r\n", port: server.port)
                #expect(try await onOwnThread { try later.readResponse() }.hasPrefix("HTTP/1.1 200 "))
                let refused = String(decoding: try await onOwnThread { try later.readToEnd() }, as: UTF8.self)
                let status = spelling == "websocket" ? "307" : "400"
                #expect(refused.hasPrefix("HTTP/1.1 \(status) "), "\(spelling): \(refused)")
                if status == "400" { #expect(refused.contains("A WebSocket is opened with GET; send the DELETE without"), "\(refused)") }
                #expect(later.peerClosed, "\(spelling): the connection ended")
            }
            #expect(try await count("Storm") == 1, "Storm is still there")
        }
    }

    /// A body in a transfer coding other than `chunked` (`Transfer-Encoding: gzip, chunked`): the parser takes
    /// apart only its chunks, and the compressed bytes were read as JSON (`400 JsonSyntaxError`, or "needs a JSON
    /// body" for an empty one). RFC 9112 §6.1 gives `501` to a coding the server does not understand; the body is
    /// read past, and the connection serves the next request.
    @Test func aTransferCodingOtherThanChunkedIsNotImplemented() async throws {
        try await TestServer.with(configuration: .init(idleTimeout: .seconds(120))) { server in
            for codings in ["gzip, chunked", "x-custom,chunked"] {
                let socket = try RawSocket.sending(
                    "POST /api/superhero HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        + "Transfer-Encoding: \(codings)\r\n\r\n4\r\n\u{1F}\u{8B}\u{08}\r\n0\r\n\r\n"
                        + "GET /api/superhero//limit=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", port: server.port)
                let refused = try await onOwnThread { try socket.readResponse() }
                #expect(refused.hasPrefix("HTTP/1.1 501 "), "\(codings): \(refused)")
                let coding = String(codings.prefix { $0 != "," })
                #expect(refused.contains("Unsupported Transfer-Encoding '\(coding)'; send the body chunked or with a Content-Length"), "\(refused)")
                #expect(try await onOwnThread { try socket.readResponse() }.hasPrefix("HTTP/1.1 200 "), "\(codings), then GET")
            }
        }
    }

    /// A body that is not UTF-8 (Latin-1 "été") was read with its bad bytes made U+FFFD and stored so ("�t�"):
    /// it is refused, and nothing is stored. A UTF-8 byte order mark, which Windows editors and PowerShell write,
    /// was a syntax error "at byte 0xef": it is ignored, as RFC 8259 §8.1 allows.
    @Test func aBodyIsUTF8AndMayBeginWithAByteOrderMark() async throws {
        try await TestServer.with { server in
            func post(_ body: [UInt8]) async throws -> String {
                let head =
                    "POST /api/superhero HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json; charset=iso-8859-1\r\n"
                    + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
                let socket = try RawSocket(port: server.port)
                try socket.write(Array(head.utf8) + body)
                return String(decoding: try await onOwnThread { try socket.readToEnd() }, as: UTF8.self)
            }
            let latin1 = try await post(Array(#"{"Name": "X"#.utf8) + [0xE9, 0x74, 0xE9] + Array(#"", "Year": 1, "HasSecretIdentity": false}"#.utf8))
            #expect(latin1.hasPrefix("HTTP/1.1 400 "), "\(latin1)")
            #expect(latin1.contains("The body is not valid UTF-8; JSON is UTF-8 (RFC 8259), whatever a charset says"), "\(latin1)")
            let stored = try await RawHTTP.get(port: server.port, path: "/api/superhero/Year=1")
            #expect(stored.body.contains(#""DataCount": 0"#), "nothing stored: \(stored.body)")
            let marked = try await post([0xEF, 0xBB, 0xBF] + Array(#"{"Name": "Marked", "Year": 1, "HasSecretIdentity": false}"#.utf8))
            #expect(marked.hasPrefix("HTTP/1.1 201 "), "\(marked)")
            #expect(try await RawHTTP.get(port: server.port, path: "/api/superhero/Year=1").body.contains(#""Name": "Marked""#))
        }
    }

    /// A `HEAD` of a page outside the API root is answered as its `GET`, without the body (RFC 9110 §9.3.2):
    /// the browser console's page and `/metrics` were routed for `GET` alone, and their `HEAD` was `404`.
    @Test func aHeadOfAPageIsItsGetWithoutTheBody() async throws {
        try await TestServer.with(routes: { server in
            server.router.addBrowserConsole(terminalURI: "/api/pty", api: server.api, configuration: server.configuration)
            server.router.addMetricsEndpoint(api: server.api, configuration: server.configuration) { Array("figures 1\n".utf8) }
            server.router.addHealthEndpoint(configuration: server.configuration)
        }) { server in
            for path in ["/console", "/metrics", "/health"] {
                let get = try await RawHTTP.request(port: server.port, "GET", path)
                let head = try await RawHTTP.request(port: server.port, "HEAD", path)
                #expect(get.status == 200, "\(path): \(get.head)")
                #expect(head.status == get.status, "\(path): \(head.head)")
                #expect(RawHTTP.header("Content-Length", in: head.head) == String(get.body.utf8.count), "\(path): \(head.head)")
                #expect(RawHTTP.header("Content-Type", in: head.head) == RawHTTP.header("Content-Type", in: get.head), "\(path)")
                #expect(head.body.isEmpty, "\(path)")
            }
        }
    }
}
