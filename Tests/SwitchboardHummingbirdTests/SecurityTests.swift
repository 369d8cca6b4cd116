import Foundation
import InMemoryLogging
import Logging
import Switchboard
import SwitchboardAPIKeys
import SwitchboardHummingbird
import Testing

@testable import SwitchboardTestSupport

/// Keys, rights, origins, hosts and cross-site requests, end to end through a real server, the Python
/// `websockets` client and raw HTTP (see Docs/Security.md for the attacks each test covers).
@Suite(.serialized, .timeLimit(.minutes(3)))
struct SecurityTests {
    static let aliceKey = "alice-key-0123456789abcdef"
    static let bobKey = "bob-key-0123456789abcdef"
    static let adminKey = "admin-key-0123456789abcdef"

    /// Alice reads heroes, echoes and may use the Shell; Bob may write heroes; the admin may do anything.
    static func keys(anonymous: AccessRights = .none) -> APIKeyAuthenticator {
        APIKeyAuthenticator(
            keys: [
                .init(
                    name: "alice", key: aliceKey,
                    rights: AccessRights([
                        .init(resources: ["SwitchboardSamples.Echo", "SwitchboardSamples.Superhero"], methods: [.GET])
                    ])),
                .init(name: "bob", key: bobKey, rights: AccessRights([.init(resources: ["SwitchboardSamples.*"], methods: nil)])),
                .init(name: "admin", key: adminKey, rights: .all),
            ], anonymous: anonymous)
    }

    static func bearer(_ key: String) -> [(String, String)] { [("Authorization", "Bearer \(key)")] }

    // MARK: Ways to pass a key

    @Test func everyWayToPassAKeyWorksOverHTTPAndWebSocket() async throws {
        try await TestServer.with(authenticator: Self.keys()) { server in
            let basic = Data(":\(Self.aliceKey)".utf8).base64EncodedString()
            let headerForms = [
                "Authorization: Bearer \(Self.aliceKey)", "Authorization: ApiKey \(Self.aliceKey)",
                "Authorization: token \(Self.aliceKey)", "Authorization: Basic \(basic)",
            ]
            for header in headerForms {
                let answer = try await RawHTTP.request(port: server.port, "GET", "/api/superhero//limit=1", headers: [header])
                #expect(answer.status == 200, "\(header)")
                let parts = header.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                let client = try await WebSocketTestClient.connect(server.base + "/api/echo", headers: [(parts[0], parts[1])])
                client.send("hi")
                #expect(try await client.receiveText() == "hi")
                try await client.close()
            }
            // A browser's WebSocket: `aBrowserSendsItsKeyAsASubprotocolAndNoCookieIsRead`.
            let inURI = try await RawHTTP.request(port: server.port, "GET", "/api(\(Self.aliceKey))/superhero//limit=1")
            #expect(inURI.status == 200)
            #expect(!inURI.body.contains(Self.aliceKey))
            // A plain GET of a terminal gets 426 with a connect hint: the hint shows no key either.
            let hint = try await RawHTTP.request(port: server.port, "GET", "/api(\(Self.aliceKey))/echo")
            #expect(hint.status == 426)
            #expect(!hint.body.contains(Self.aliceKey))
            let client = try await WebSocketTestClient.connect(server.base + "/api(\(Self.aliceKey))/echo")
            client.send("#INFO")
            let profile = try await client.receiveText()
            #expect(profile.contains("\"CurrentTerminal\": \"SwitchboardSamples.Echo\""))
            #expect(!profile.contains(Self.aliceKey))
            try await client.close()
        }
    }

    /// A browser's WebSocket can set no header but its subprotocols: the console sends the key as
    /// `switchboard.key.<key>` beside `switchboard`, and the upgrade answers `switchboard` (a browser fails a
    /// connection whose offers are all left unanswered), never the key. No cookie carries a key any more: a
    /// browser sends a host's cookies to every port of that host, so the console's cookie reached every other
    /// server on the machine (until 2026-12-07 `switchboard_token` was read, and set by the console).
    @Test func aBrowserSendsItsKeyAsASubprotocolAndNoCookieIsRead() async throws {
        try await TestServer.with(authenticator: Self.keys()) { server in
            func upgrade(_ fields: String) throws -> (head: String, socket: RawSocket) {
                let socket = try RawSocket.sending(
                    "GET /api/echo HTTP/1.1\r\nHost: 127.0.0.1:\(server.port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\(fields)\r\n", port: server.port)
                return (try socket.readHead(), socket)
            }
            let offered = try upgrade("Sec-WebSocket-Protocol: switchboard, switchboard.key.\(Self.aliceKey)\r\n")
            #expect(offered.head.hasPrefix("HTTP/1.1 101"), "\(offered.head)")
            #expect(RawHTTP.header("Sec-WebSocket-Protocol", in: offered.head) == "switchboard")
            #expect(!offered.head.contains(Self.aliceKey))
            try offered.socket.write(RawSocket.maskedFrame(opcode: 0x1, payload: Array("#INFO".utf8)))
            let info = try await onOwnThread { try offered.socket.read(count: 2) }
            #expect(info.first == 0x81)
            // Without the offer of `switchboard`, nothing is answered (a browser would not send the key alone).
            let alone = try upgrade("Sec-WebSocket-Protocol: switchboard.key.\(Self.aliceKey)\r\n")
            #expect(alone.head.hasPrefix("HTTP/1.1 101"), "\(alone.head)")
            #expect(RawHTTP.header("Sec-WebSocket-Protocol", in: alone.head) == nil)
            let wrong = try upgrade("Sec-WebSocket-Protocol: switchboard, switchboard.key.not-a-key-of-this-server\r\n")
            #expect(wrong.head.hasPrefix("HTTP/1.1 401"), "\(wrong.head)")
            // A key in base64url of its UTF-8 (how the console sends one that is not an HTTP token).
            let base64url = Data(Self.aliceKey.utf8).base64EncodedString()
                .replacing("+", with: "-").replacing("/", with: "_").replacing("=", with: "")
            let encoded = try upgrade("Sec-WebSocket-Protocol: switchboard, switchboard.key64.\(base64url)\r\n")
            #expect(encoded.head.hasPrefix("HTTP/1.1 101"), "\(encoded.head)")
            #expect(RawHTTP.header("Sec-WebSocket-Protocol", in: encoded.head) == "switchboard")
            let garbled = try upgrade("Sec-WebSocket-Protocol: switchboard, switchboard.key64.not*base64\r\n")
            #expect(garbled.head.hasPrefix("HTTP/1.1 401"), "\(garbled.head)")
            let reason = try await onOwnThread { String(decoding: try garbled.socket.readToEnd(), as: UTF8.self) }
            #expect(reason.contains("is not base64url of UTF-8 text"), "\(reason)")
            let cookie = try upgrade("Cookie: theme=dark; \(AccessCredentials.cookieName)=\(Self.aliceKey)\r\n")
            #expect(cookie.head.hasPrefix("HTTP/1.1 401"), "\(cookie.head)")
            let overHTTP = try await RawHTTP.request(
                port: server.port, "GET", "/api/superhero//limit=1", headers: ["Cookie: \(AccessCredentials.cookieName)=\(Self.aliceKey)"])
            #expect(overHTTP.status == 401)
        }
    }

    /// Generated keys are 43 base64url characters and never start with `-`: `connect --token KEY` read one in 64
    /// as an option (a usage error) before.
    /// The hash a key file keeps: SHA-256 in 64 lowercase hex digits (FIPS 180-2's test vectors).
    @Test func aKeyIsHashedAsSHA256InLowercaseHex() {
        #expect(APIKeyAuthenticator.hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(APIKeyAuthenticator.hash("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func generatedKeysAreBase64URLAndCanFollowAnOption() {
        let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var keys = Set<String>()
        for _ in 0..<5_000 {
            let key = APIKeyAuthenticator.generateKey()
            #expect(key.count == 43 && key.allSatisfy(alphabet.contains), "\(key)")
            #expect(key.first != "-", "\(key)")
            keys.insert(key)
        }
        #expect(keys.count == 5_000)
    }

    @Test func missingBadAndMalformedKeysAre401WithAChallenge() async throws {
        try await TestServer.with(authenticator: Self.keys()) { server in
            for headers in [[], ["Authorization: Bearer wrong-key"], ["Authorization: Digest abc"], ["Authorization: Basic !!!"]] {
                let answer = try await RawHTTP.request(port: server.port, "GET", "/api/superhero", headers: headers)
                #expect(answer.status == 401, "\(headers)")
                #expect(RawHTTP.header("WWW-Authenticate", in: answer.head) == #"Bearer realm="Switchboard""#)
                #expect(!answer.body.contains("wrong-key"))
            }
            #expect(try await WebSocketTestClient.refusalStatus(server.base + "/api/shell") == 401)
            #expect(try await WebSocketTestClient.refusalStatus(server.base + "/api/pty", headers: Self.bearer("wrong-key")) == 401)
            // A raw upgrade shows the JSON reason and the challenge, and the key in the URI is not echoed.
            let raw = try await RawHTTP.request(
                port: server.port, "GET", "/api(not-a-key-123)/shell",
                headers: RawHTTP.upgradeHeaders)
            #expect(raw.status == 401)
            #expect(RawHTTP.header("WWW-Authenticate", in: raw.head) != nil)
            #expect(raw.body.contains("\"Uri\": \"/shell\""))
            #expect(!raw.body.contains("not-a-key-123"))
        }
    }

    // MARK: Rights

    @Test func rightsPerResourceAndMethodOverHTTP() async throws {
        try await TestServer.with(authenticator: Self.keys()) { server in
            let alice = ["Authorization: Bearer \(Self.aliceKey)"]
            let json = ["Content-Type: application/json"]
            let hero = #"{"Name": "Hulk", "Year": 1962, "HasSecretIdentity": false}"#
            #expect(try await RawHTTP.request(port: server.port, "GET", "/api/superhero", headers: alice).status == 200)
            #expect(try await RawHTTP.request(port: server.port, "REPORT", "/api/superhero", headers: alice).status == 200)
            #expect(try await RawHTTP.request(port: server.port, "HEAD", "/api/superhero", headers: alice).status == 200)
            let refused = try await RawHTTP.request(port: server.port, "POST", "/api/superhero", headers: alice + json, body: hero)
            #expect(refused.status == 403)
            #expect(refused.body.contains("The key 'alice' may not POST 'SwitchboardSamples.Superhero'"))
            #expect(try await RawHTTP.request(port: server.port, "GET", "/api/admin.websocket", headers: alice).status == 403)
            #expect(try await RawHTTP.request(port: server.port, "DELETE", "/api/admin.websocket//unsafe=true", headers: alice).status == 403)
            let bob = ["Authorization: Bearer \(Self.bobKey)"]
            #expect(try await RawHTTP.request(port: server.port, "POST", "/api/superhero", headers: bob + json, body: hero).status == 201)
            // The list of resources shows only what the caller may use, with the methods it may use.
            let listed = try await RawHTTP.request(port: server.port, "GET", "/api", headers: alice)
            #expect(listed.body.contains("SwitchboardSamples.Echo"))
            #expect(!listed.body.contains("Admin"))
            #expect(!listed.body.contains("ChatRoom"))
            #expect(!listed.body.contains("\"POST\""))
            // Not found lists only visible names.
            let unknown = try await RawHTTP.request(port: server.port, "GET", "/api/nosuch", headers: alice)
            #expect(unknown.status == 404)
            #expect(!unknown.body.contains("Admin"))
        }
    }

    @Test func rightsAtTheUpgradeAndInsideTheShell() async throws {
        try await TestServer.with(authenticator: Self.keys()) { server in
            #expect(try await WebSocketTestClient.refusalStatus(server.base + "/api/chatroom", headers: Self.bearer(Self.aliceKey)) == 403)
            // A bad property is not reported to a key that may not open the terminal: that would list its properties.
            #expect(
                try await WebSocketTestClient.refusalStatus(server.base + "/api/chatroom/nosuchproperty=1", headers: Self.bearer(Self.aliceKey))
                    == 403)
            let shell = try await WebSocketTestClient.connect(server.base + "/api/shell/binarybodies=false", headers: Self.bearer(Self.aliceKey))
            _ = try await shell.receiveText()  // banner
            _ = try await shell.receiveText()  // location
            // A resource the key has no right on is refused at navigation, before anything about it is said.
            shell.send("/chatroom/nosuchproperty=1")
            #expect(try await shell.receiveText() == "403: Forbidden. The key 'alice' may not open terminal 'SwitchboardSamples.ChatRoom'")
            #expect(try await shell.receiveText() == "? <no query>")
            shell.send(#"POST /superhero {"Name": "X", "Year": 1, "HasSecretIdentity": true}"#)
            let post = try await shell.receiveText()
            #expect(post.hasPrefix("403: Forbidden (") && post.hasSuffix("The key 'alice' may not POST 'SwitchboardSamples.Superhero'"))
            _ = try await shell.receiveText()  // the error body
            _ = try await shell.receiveText()
            shell.send("GET /admin.websocket")
            #expect(try await shell.receiveText().hasSuffix("The key 'alice' may not GET 'Switchboard.Admin.WebSocket'"))
            _ = try await shell.receiveText()  // the location, unchanged
            shell.send("/echo")
            _ = try await shell.receiveText()
            shell.send("GET")
            shell.send("inside")
            #expect(try await shell.receiveText() == "inside")
            try await shell.close()
        }
    }

    @Test func anonymousRightsAreNoneByDefaultAndOnlyWhatIsGiven() async throws {
        let anonymous = AccessRights([.init(resources: ["SwitchboardSamples.Superhero"], methods: [.GET])])
        try await TestServer.with(authenticator: Self.keys(anonymous: anonymous)) { server in
            #expect(try await RawHTTP.request(port: server.port, "GET", "/api/superhero").status == 200)
            let write = try await RawHTTP.request(
                port: server.port, "POST", "/api/superhero", headers: ["Content-Type: application/json"], body: #"{"Name": "X"}"#)
            #expect(write.status == 401)
            #expect(try await WebSocketTestClient.refusalStatus(server.base + "/api/echo") == 401)
        }
    }

    @Test func aRevokedKeyIsRefusedAndItsConnectionsClosed() async throws {
        let keys = Self.keys()
        try await TestServer.with(authenticator: keys) { server in
            let alice = try await WebSocketTestClient.connect(server.base + "/api/echo", headers: Self.bearer(Self.aliceKey))
            let bob = try await WebSocketTestClient.connect(server.base + "/api/echo", headers: Self.bearer(Self.bobKey))
            let remaining = KeyFile(keys: [.init(name: "bob", key: Self.bobKey, rights: .all)])
            let removed = keys.reload(remaining)
            #expect(removed == ["admin", "alice"])
            for name in removed { await server.api.closeConnections(of: name) }
            let close = try await alice.closeFrame()
            #expect(close?.code == 1008)
            #expect(close?.reason == "The key was revoked")
            bob.send("still here")
            #expect(try await bob.receiveText() == "still here")
            #expect(try await RawHTTP.request(port: server.port, "GET", "/api/echo", headers: ["Authorization: Bearer \(Self.aliceKey)"]).status == 401)
            try await bob.close()
        }
    }

    // MARK: Browsers

    @Test func foreignAndNullOriginsAreRefusedBeforeTheUpgrade() async throws {
        try await TestServer.with(configuration: .init(allowedOrigins: ["https://app.example.com"])) { server in
            for origin in ["https://evil.example", "null", "http://127.0.0.1:1", "http://localhost:\(server.port)"] {
                #expect(try await WebSocketTestClient.refusalStatus(server.base + "/api/echo", headers: [("Origin", origin)]) == 403, "\(origin)")
                let post = try await RawHTTP.request(
                    port: server.port, "POST", "/api/superhero", headers: ["Origin: \(origin)", "Content-Type: application/json"],
                    body: #"{"Name": "X", "Year": 1, "HasSecretIdentity": true}"#)
                #expect(post.status == 403, "\(origin)")
                #expect(post.body.contains("OriginNotAllowed"))
            }
            for origin in ["http://127.0.0.1:\(server.port)", "https://app.example.com"] {
                let client = try await WebSocketTestClient.connect(server.base + "/api/echo", headers: [("Origin", origin)])
                client.send("same")
                #expect(try await client.receiveText() == "same")
                try await client.close()
            }
            // Reads carry no Origin check (a browser cannot read the answer without CORS).
            #expect(try await RawHTTP.request(port: server.port, "GET", "/api/superhero", headers: ["Origin: https://evil.example"]).status == 200)
        }
    }

    @Test func unknownHostsAreRefusedOnLoopback() async throws {
        try await TestServer.with(configuration: .init(allowedHosts: ["localhost", "127.0.0.1", "::1", "switchboard.test"])) { server in
            for host in ["evil.example:\(server.port)", "evil.example", "127.0.0.1.evil.example"] {
                let answer = try await RawHTTP.request(port: server.port, "GET", "/api/superhero", hostHeader: host)
                #expect(answer.status == 403, "\(host)")
                let upgrade = try await RawHTTP.request(
                    port: server.port, "GET", "/api/echo", hostHeader: host,
                    headers: RawHTTP.upgradeHeaders)
                #expect(upgrade.status == 403, "\(host)")
                #expect(upgrade.body.contains("HostNotAllowed"))
            }
            for host in ["localhost:\(server.port)", "127.0.0.1:\(server.port)", "[::1]:\(server.port)", "switchboard.test"] {
                #expect(try await RawHTTP.request(port: server.port, "GET", "/api/superhero", hostHeader: host).status == 200, "\(host)")
            }
            // A second `Host` (an allowed one first, then another, or the other way round) is `400`, over HTTP and
            // for an upgrade: which one a proxy in front believed cannot be known (RFC 9112 §3.2).
            for (first, second) in [("127.0.0.1", "evil.example"), ("evil.example", "127.0.0.1")] {
                for upgrade in [false, true] {
                    let answer = try await RawHTTP.request(
                        port: server.port, "GET", upgrade ? "/api/echo" : "/api/superhero", hostHeader: first,
                        headers: ["Host: \(second)"] + (upgrade ? RawHTTP.upgradeHeaders : []))
                    #expect(answer.status == 400, "\(first), \(second), upgrade: \(upgrade)")
                    #expect(answer.body.contains("more than one Host field"), "\(answer.body)")
                }
            }
        }
        // The default on loopback is the loopback names.
        try await TestServer.with { (server: TestServer) async throws in
            let answer = try await RawHTTP.request(port: server.port, "GET", "/api/superhero", hostHeader: "evil.example")
            #expect(answer.status == 403)
        }
    }

    /// A request whose target is in absolute form (`GET http://evil.example/api/x`) is checked for the target's
    /// authority, which RFC 9112 §3.2.2 has the server take in place of `Host`: over HTTP and for an upgrade. It
    /// was checked for its `Host` field alone, and `Host: 127.0.0.1` had it served.
    @Test func anAbsoluteFormTargetIsCheckedForItsOwnAuthority() async throws {
        try await TestServer.with { server in
            for target in ["http://evil.example/api/superhero", "http://evil.example:\(server.port)/api/echo", "HTTP://127.0.0.1@evil.example/api/superhero"] {
                let upgrade = target.hasSuffix("echo")
                let answer = try await RawHTTP.request(
                    port: server.port, "GET", target, hostHeader: "127.0.0.1:\(server.port)", headers: upgrade ? RawHTTP.upgradeHeaders : [])
                #expect(answer.status == 403, "\(target): \(answer.head)")
                #expect(answer.body.contains("HostNotAllowed") && answer.body.contains("'evil.example"), "\(answer.body)")
            }
            // The target's authority is taken whatever `Host` says, even empty.
            for host in ["evil.example", ""] {
                let answer = try await RawHTTP.request(
                    port: server.port, "GET", "http://127.0.0.1:\(server.port)/api/superhero//limit=1", hostHeader: host)
                #expect(answer.status == 200, "Host: '\(host)': \(answer.head)")
            }
            // No authority at all is no allowed host.
            let empty = try await RawHTTP.request(port: server.port, "GET", "http:///api/superhero", hostHeader: "127.0.0.1")
            #expect(empty.status == 403, "\(empty.head)")
        }
    }

    @Test(arguments: [
        "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", nil,
    ])
    func crossSiteContentTypesAreRefused(type: String?) async throws {
        try await TestServer.with { server in
            let headers = type.map { ["Content-Type: \($0)"] } ?? []
            let answer = try await RawHTTP.request(
                port: server.port, "POST", "/api/superhero", headers: headers, body: #"{"Name": "Csrf", "Year": 1, "HasSecretIdentity": true}"#)
            #expect(answer.status == 415)
            let count = try await RawHTTP.request(port: server.port, "REPORT", "/api/superhero/name=Csrf")
            #expect(count.body.contains("\"Count\": 0"))
        }
    }

    @Test func jsonContentTypesAreAccepted() async throws {
        try await TestServer.with { server in
            for type in ["application/json", "application/json; charset=utf-8", "application/merge-patch+json"] {
                let answer = try await RawHTTP.request(
                    port: server.port, "POST", "/api/superhero", headers: ["Content-Type: \(type)"],
                    body: #"{"Name": "Ok", "Year": 1, "HasSecretIdentity": true}"#)
                #expect(answer.status == 201, "\(type)")
            }
        }
    }

    // MARK: Nothing leaks

    @Test func keysAndSecretHeadersAppearInNoOutputAndNoLog() async throws {
        let logs = InMemoryLogHandler()
        var logger = Logger(label: "test") { _ in logs }
        logger.logLevel = .trace
        try await TestServer.with(logger: logger, authenticator: Self.keys()) { server in
            let console = try await WebSocketTestClient.connect(
                server.base + "/api/admin.console/status=open&includecontent=true", headers: Self.bearer(Self.adminKey))
            _ = try await console.receiveText()
            let alice = try await WebSocketTestClient.connect(
                server.base + "/api(\(Self.aliceKey))/shell/binarybodies=false", headers: [("X-Api-Key", "other-secret-value")])
            _ = try await alice.receiveText()
            _ = try await alice.receiveText()
            var seen: [String] = []
            for command in ["#INFO", "HEADERS"] {
                alice.send(command)
                seen.append(try await alice.receiveText())
            }
            // Set by hand, a credential header's value is not shown to the console either.
            _ = try await alice.receiveText()  // the location line after HEADERS
            alice.send("HEADER X-Auth-Token = typed-secret-value")
            #expect(try await alice.receiveText().contains("typed-secret-value"))  // her own answer
            _ = try await alice.receiveText()
            alice.send(#"#INFO {"CustomHeaders": {"X-Session": "info-secret-value"}}"#)
            _ = try await alice.receiveText()
            _ = try await RawHTTP.request(port: server.port, "GET", "/api(\(Self.aliceKey))/nosuch")
            let listing = try await RawHTTP.request(
                port: server.port, "GET", "/api/admin.websocket", headers: ["Authorization: Bearer \(Self.adminKey)"])
            seen.append(listing.body)
            #expect(listing.body.contains("\"X-Api-Key\": \"(redacted)\""))
            // Console lines until the HTTP request to /nosuch has shown up.
            var feed = ""
            while !feed.contains("/nosuch") {
                feed += try await console.receiveText() + "\n"
            }
            seen.append(feed)
            seen.append(logs.entries.map { "\($0.message) \($0.metadata)" }.joined(separator: "\n"))
            for text in seen {
                #expect(!text.contains(Self.aliceKey))
                #expect(!text.contains(Self.adminKey))
            }
            #expect(!seen[0].contains("other-secret-value") || seen[0].contains("X-Api-Key"))  // its own #INFO may show it
            #expect(!listing.body.contains("other-secret-value"))
            for secret in ["other-secret-value", "typed-secret-value", "info-secret-value"] {
                #expect(!feed.contains(secret), "\(secret) in the console's feed")
            }
            #expect(feed.contains("HEADER X-Auth-Token = (redacted)") && feed.contains(#""X-Session":"(redacted)""#))
            try await alice.close()
            try await console.close()
        }
    }

    /// A key put anywhere but right after the API root (`/api/shell(<key>)`, a condition's value, a Shell
    /// command) reaches its own caller's answers as it was sent, and nobody else's eyes: the error log, the
    /// console's feed and the connection listing write `(redacted)`, also where an answer quotes only the part
    /// of the key before a `-` (the parser's view separator), as generated keys can hold one.
    @Test func aKeyInTheWrongPlaceOfAURIIsRedactedWhereOthersSeeIt() async throws {
        let danaKey = "Dana0123456789ab-cdefghijklmnopq_rstuvw"
        let erinKey = "Erin0123456789abcdefghijklmnopqrstuvwx"
        let keys = APIKeyAuthenticator(keys: [
            .init(name: "dana", key: danaKey, rights: AccessRights([.init(resources: ["SwitchboardSamples.Superhero"], methods: [.GET])])),
            .init(name: "erin", key: erinKey, rights: .none),
            .init(name: "admin", key: Self.adminKey, rights: .all),
        ])
        try await TestServer.with(authenticator: keys) { server in
            let console = try await WebSocketTestClient.connect(
                server.base + "/api/admin.console/status=open&includecontent=true", headers: Self.bearer(Self.adminKey))
            _ = try await console.receiveText()
            // Over HTTP: in a resource's name, and as a condition's value that the error quotes.
            let misplaced = try await RawHTTP.request(port: server.port, "GET", "/api(\(danaKey))/nosuch(\(danaKey))")
            #expect(misplaced.status == 404 && misplaced.body.contains("nosuch(Dana0123456789ab"))  // her own answer
            let quoted = try await RawHTTP.request(
                port: server.port, "GET", "/api/superhero/year=\(erinKey)&name=x", headers: ["Authorization: Bearer \(danaKey)"])
            #expect(quoted.status == 400 && quoted.body.contains(erinKey))
            // In the Shell: her own key in a command that fails, and another's in the query the Shell keeps.
            let shell = try await WebSocketTestClient.connect(server.base + "/api/shell", headers: Self.bearer(danaKey))
            _ = try await shell.receiveText()
            _ = try await shell.receiveText()
            shell.send("GET /nosuch(\(danaKey))")
            #expect(try await shell.receiveTextAsSent().contains("nosuch(Dana0123456789ab'"))
            _ = try await shell.receiveText()
            shell.send("GET /superhero/name=\(erinKey)")
            while try await shell.receiveText().hasPrefix("? ") == false {}

            let errors = try await RawHTTP.request(
                port: server.port, "GET", "/api/switchboard.admin.error", headers: ["Authorization: Bearer \(Self.adminKey)"])
            let listing = try await RawHTTP.request(
                port: server.port, "GET", "/api/admin.websocket", headers: ["Authorization: Bearer \(Self.adminKey)"])
            _ = try await RawHTTP.request(port: server.port, "GET", "/api/the-last-request", headers: ["Authorization: Bearer \(Self.adminKey)"])
            var feed = ""
            while !feed.contains("/the-last-request") {
                feed += try await console.receiveText() + "\n"
            }
            #expect(errors.body.contains(#""Uri": "/nosuch((redacted))""#))
            #expect(errors.body.contains(#""Uri": "/superhero/year=(redacted)&name=x""#))
            #expect(errors.body.contains("Invalid value '(redacted)' in condition 'year=(redacted)'"))
            // HTTP and the Shell: the message quotes the key up to its `-`.
            #expect(errors.body.components(separatedBy: "resource by 'nosuch((redacted)'").count == 3)
            #expect(listing.body.contains("/Name=(redacted)"))
            #expect(feed.contains("GET /api/nosuch((redacted)) → 404") && feed.contains("Content: GET /nosuch((redacted))"))
            #expect(feed.contains("resource by 'nosuch((redacted)'"))
            for text in [errors.body, listing.body, feed] {
                #expect(!text.contains("Dana0123") && !text.contains("Erin0123") && !text.contains(Self.adminKey))
            }
            try await shell.close()
            try await console.close()
        }
    }

    @Test func headerValuesWithLineBreaksAreRefusedByScalar() async throws {
        try await TestServer.with { server in
            let client = try await WebSocketTestClient.connect(server.base + "/api/echo")
            for value in ["a\\r\\nInjected: 1", "a\\nb", "a\\rb", "a\\u0000b"] {
                client.send(#"#INFO {"CustomHeaders": {"X-Test": "\#(value)"}}"#)
                #expect(try await client.receiveText().hasPrefix("400: Bad request. The value of header 'X-Test'"))
            }
            try await client.close()
        }
    }

    @Test func theConsoleEscapesControlCharacters() async throws {
        try await TestServer.with { server in
            let console = try await WebSocketTestClient.connect(server.base + "/api/admin.console/status=open&includecontent=true")
            _ = try await console.receiveText()
            let echo = try await WebSocketTestClient.connect(server.base + "/api/echo")
            echo.send("one\r\n++ forged line\u{1B}[2J\u{85}")
            _ = try await echo.receiveText()
            var line = ""
            while !line.contains("forged") { line = try await console.receiveText() }
            #expect(line.contains(#"one\r\n++ forged line\u{1B}[2J\u{85}"#))
            #expect(!line.contains("\n") && !line.contains("\u{1B}"))
            try await echo.close()
            try await console.close()
        }
    }

    // MARK: The browser console

    /// The console's page holds no secret and is served to anyone this host answers: its script takes the key
    /// out of the address into the tab's `sessionStorage` (a browser test follows it), asks `/console/key`
    /// whether it is valid, and sends it with the WebSocket as a subprotocol. The server sets no cookie, and
    /// clears the one in which older consoles kept the key. Page and answers may not be framed.
    @Test func theBrowserConsoleSetsNoCookieChecksKeysAndCannotBeFramed() async throws {
        // With authentication off, the page needs no key: `/console/key` answers `204` without one.
        try await TestServer.with(
            routes: { server in
                server.router.addBrowserConsole(terminalURI: "/api/pty", api: server.api, configuration: server.configuration)
            }
        ) { server in
            let needed = try await RawHTTP.request(port: server.port, "GET", "/console/key")
            #expect(needed.status == 204)
        }
        try await TestServer.with(
            authenticator: Self.keys(),
            routes: { server in
                server.router.addBrowserConsole(terminalURI: "/api/pty", api: server.api, configuration: server.configuration)
            }
        ) { server in
            let page = try await RawHTTP.request(port: server.port, "GET", "/console")
            #expect(page.status == 200)
            #expect(page.body.contains("sessionStorage.setItem('switchboard.key'"))
            #expect(page.body.contains(#"["switchboard","switchboard.key.","switchboard.key64."]"#))
            let entry = try await RawHTTP.request(port: server.port, "GET", "/console?token=\(Self.aliceKey)")
            #expect(entry.status == 200)
            for answer in [page, entry] { #expect(RawHTTP.header("Set-Cookie", in: answer.head) == nil) }
            let older = try await RawHTTP.request(
                port: server.port, "GET", "/console", headers: ["Cookie: theme=dark; \(AccessCredentials.cookieName)=\(Self.aliceKey)"])
            #expect(RawHTTP.header("Set-Cookie", in: older.head) == "\(AccessCredentials.cookieName)=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict")
            let unknown = try await RawHTTP.request(port: server.port, "GET", "/console/key", headers: ["Authorization: Bearer nope-nope-nope-nope"])
            let none = try await RawHTTP.request(port: server.port, "GET", "/console/key")
            for refused in [unknown, none] {
                #expect(refused.status == 401)
                #expect(RawHTTP.header("WWW-Authenticate", in: refused.head) == #"Bearer realm="Switchboard""#)
            }
            let valid = try await RawHTTP.request(port: server.port, "GET", "/console/key", headers: ["Authorization: Bearer \(Self.aliceKey)"])
            #expect(valid.status == 204)
            // Each file of the CDN with the SHA-384 of the pinned version (a browser test checks that it is kept to).
            let script = "sha384-M169f14mRZOXm3hD/v2Ti0ThIT/RnAQagXA9nlE15yHAtrW19gdePJh/HaTzUOe/"
            let stylesheet = "sha384-8Xk9wy/gzEDUKrXtrmCFa2bBuK3BpjpDuL/p0SeKQX19Khl/M+lHOgD/CyYf7efP"
            #expect(page.body.contains(#"xterm@5.5.0/lib/xterm.js" integrity="\#(script)" crossorigin="anonymous"></script>"#))
            #expect(page.body.contains(#"xterm@5.5.0/css/xterm.css" integrity="\#(stylesheet)" crossorigin="anonymous">"#))
            for answer in [page, valid, unknown] {
                #expect(RawHTTP.header("X-Frame-Options", in: answer.head) == "DENY")
                #expect(RawHTTP.header("Content-Security-Policy", in: answer.head)?.contains("frame-ancestors 'none'") == true)
                #expect(RawHTTP.header("X-Content-Type-Options", in: answer.head) == "nosniff")
                #expect(RawHTTP.header("Referrer-Policy", in: answer.head) == "no-referrer")
            }
            // Without a key, `/console/key` says whether one is needed: here it is.
            #expect(none.status == 401)
            for path in ["/console", "/console/key"] {
                let rebound = try await RawHTTP.request(
                    port: server.port, "GET", path, hostHeader: "evil.example", headers: ["Authorization: Bearer \(Self.aliceKey)"])
                #expect(rebound.status == 403, "\(path)")
            }
        }
    }
}
