import Foundation
import HTTPTypes
@_spi(Internal) import Hummingbird
import Switchboard
import Testing

@testable import SwitchboardHummingbird
@testable import SwitchboardTestSupport

/// `SwitchboardServer` answers the paths below its root before the router's trie (`SwitchboardResponder`):
/// it must take exactly the requests the trie would give to Switchboard's routes, and answer them exactly as
/// a router does.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct SwitchboardResponderTests {
    /// Routes of an application's own, added after Switchboard's, and whether the endpoint may still answer
    /// ahead of the trie beside them (no route of these could match a path below the root).
    static let cases: [(root: String, later: [String], answersAhead: Bool)] = [
        ("/api", [], true),
        ("/api", ["/hello", "/apix", "/ap", "/API/x", "/v1/other", "/deep/*/path/**", "/hello/:name"], true),
        ("/v1/api", ["/hello", "/v1", "/v1/other", "/v1/apix/y", "/v2/api/x", "/deep/*/path/**"], true),
        ("", [], true),
        ("/api", ["/api/late"], false), ("/api", ["/api(x)"], false), ("/api", ["/:name"], false), ("/api", ["/*/x"], false),
        ("/api", ["/api/**"], false), ("/api", ["/{name}/x"], false), ("", ["/hello"], false), ("/v1/api", ["/v1/api/x"], false),
        ("/v1/api", ["/v1/:x/y"], false), ("/v1/api", ["/v1/api(k)/z"], false),
    ]

    /// Against Hummingbird's own trie, holding Switchboard's routes and then routes of an application's own:
    /// for every root shape, with and without `GET /`, for hand-picked and 3,000 random paths (half of them below the root), `takes` is
    /// true only when the trie finds a Switchboard route answering the method; where the endpoint answers
    /// ahead of the trie, exactly then for paths of ASCII bytes, and never for other paths.
    @Test(arguments: cases.indices, [true, false])
    func takesWhatTheTrieGivesSwitchboard(caseIndex: Int, opensShellAtSlash: Bool) {
        let (root, later, answersAhead) = Self.cases[caseIndex]
        let builder = RouterPathTrieBuilder<String>()
        var owners: [String: (switchboard: Bool, methods: [HTTPRequest.Method])] = [:]
        var routes: [(path: String, method: HTTPRequest.Method)] = []
        for (path, methods) in SwitchboardEndpoint<SwitchboardRequestContext>.routes(root: root, opensShellAtSlash: opensShellAtSlash) {
            builder.addEntry(RouterPath(path), value: path)
            owners[path] = (true, methods)
            routes += methods.map { (RouterPath(path).description, $0) }
        }
        for path in later {
            builder.addEntry(RouterPath(path), value: path)
            owners[path] = (false, [.get])
            routes.append((RouterPath(path).description, .get))
        }
        let trie = builder.build()
        let endpoint = SwitchboardEndpoint<SwitchboardRequestContext>(root: root, opensShellAtSlash: opensShellAtSlash) { _, _ in
            Response(status: .ok)
        }.answering(besides: routes)
        #expect((endpoint.rootComponents != nil) == answersAhead, "root '\(root)' beside \(later)")
        var paths = [
            "", "/", "//", "///", "/api", "/api/", "//api//", "/api/shell", "/api//limit=10", "/api/a/b/c", "/api/a/b/c/d/e/f",
            "/apix", "/ap", "/API", "/API/x", "/api(", "/api(key)", "/api(key)/shell", "/api(key)x/y", "/api(x)", "/api)(", "/hello",
            "/hello/x", "/api/late", "/v1", "/v1/api", "/v1/api/", "/v1/api/x", "/v1/api(k)/x", "/v1/api(k)/z", "/v1/apix",
            "/v1/apix/y", "/v1/other", "/v1/q/y", "/v1(k)/api", "/v1(k)/api/x", "/v2/api", "/v2/api/x", "/api/%C3%A9", "/api/é",
            "/api/e\u{301}", "/api\u{301}/x", "/api/\u{301}x", "/deep/x/path/y", "/x", "/x/x", "/api/x",
        ]
        var random = SystemRandomNumberGenerator()
        let pieces = ["/", "/", "api", "v1", "(", ")", "k", "x", "é", "\u{301}", "%2F", ".", "*", ":", "hello", "late"]
        for _ in 0..<3_000 {
            // Half of them start with the root, or with the root and a key.
            let start = [root, root + "(k)", "", ""].randomElement(using: &random)!
            paths.append(start + (0..<Int.random(in: 0...7, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined())
        }
        let methods: [HTTPRequest.Method] = [.get, .post, .head, .delete, HTTPRequest.Method("REPORT")!, .trace, .connect, HTTPRequest.Method("PROPFIND")!]
        var taken = 0
        for path in paths {
            let owner = trie.resolve(path).flatMap { owners[$0.value] }
            for method in methods {
                let takes = endpoint.takes(method: method, path: path)
                let switchboards = owner.map { $0.switchboard && $0.methods.contains(method) } ?? false
                if takes {
                    taken += 1
                    #expect(switchboards, "\(method) '\(path)' below '\(root)' beside \(later) was taken; the trie gives it to another route")
                } else if answersAhead && path.utf8.allSatisfy({ $0 < 0x80 }) {
                    #expect(!switchboards, "\(method) '\(path)' below '\(root)' beside \(later) was left to the router")
                }
            }
        }
        // Where it answers ahead, it is the usual path: most requests below the root are taken.
        #expect(answersAhead ? taken > 2_500 : taken == 0, "\(taken) requests were taken")
    }

    /// A root a router reads as a pattern (`*`, `:`, `{}`) or that is not ASCII is left to the router whole.
    @Test(arguments: ["/api*", "/:api", "/{api}", "/äpi"])
    func aRootWithPatternsIsLeftToTheRouter(root: String) {
        let endpoint = SwitchboardEndpoint<SwitchboardRequestContext>(root: root, opensShellAtSlash: true) { _, _ in Response(status: .ok) }
        #expect(endpoint.rootComponents == nil)
        #expect(!endpoint.takes(method: .get, path: root + "/shell"))
    }

    /// The same requests to a `SwitchboardServer` (Switchboard's paths answered before the trie) and to an
    /// application that mounts the same API with `addSwitchboard` (every request through the trie), each with
    /// the same routes of its own added after Switchboard's, get the same answers, byte for byte but for the
    /// time: with a route of its own below the root too, which then is the application's on both.
    @Test(arguments: [false, true])
    func answersAsTheRouterDoes(withARouteBelowTheRoot: Bool) async throws {
        let requests: [(method: String, path: String, body: String?)] = [
            ("GET", "/", nil), ("POST", "/", nil), ("GET", "//", nil), ("GET", "/api", nil), ("GET", "/api/", nil),
            ("GET", "/api/superhero//limit=2", nil), ("GET", "/api/superhero/Name=Batman", nil),
            ("GET", "/api/superhero/a/b/c", nil), ("GET", "/api/superhero/a/b/c/d/e", nil), ("HEAD", "/api/superhero", nil),
            ("OPTIONS", "/api/superhero", nil), ("REPORT", "/api/superhero", nil), ("TRACE", "/api/superhero", nil),
            ("DELETE", "/api/nothing", nil), ("POST", "/api/superhero", #"{"Name": 1}"#), ("GET", "/api/echo", nil),
            ("GET", "/apix", nil), ("GET", "/api(", nil), ("GET", "/api(secret)/superhero", nil), ("GET", "/API/superhero", nil),
            ("GET", "/hello", nil), ("POST", "/hello", nil), ("GET", "/api/late", nil), ("GET", "/api/%C3%A9", nil),
            ("GET", "/api/\u{E9}", nil), ("GET", "/api/e\u{301}", nil), ("GET", "/nothing", nil),
        ]
        let addRoutes = { (router: Router<SwitchboardRequestContext>) in
            router.get("/hello") { _, _ in "hello\n" }
            if withARouteBelowTheRoot { router.get("/api/late") { _, _ in "the application's own\n" } }
        }
        var viaResponder: [String] = []
        try await TestServer.with(routes: { addRoutes($0.router) }) { server in
            for request in requests { viaResponder.append(try await Self.answer(request, port: server.port)) }
        }
        var configuration = SwitchboardServerConfiguration()
        configuration.opensShellAtSlash = true
        configuration.allowedHosts = BrowserGuard.loopbackHosts
        let router = Router(context: SwitchboardRequestContext.self)
        router.addSwitchboard(try TestServer.makeAPI(), configuration: configuration)
        addRoutes(router)
        var viaTrie: [String] = []
        try await EmbeddingTests.withApplication(router: router, server: .switchboard(webSocketRouter: router, configuration: configuration)) {
            port in
            for request in requests { viaTrie.append(try await Self.answer(request, port: port)) }
        }
        for (index, request) in requests.enumerated() {
            #expect(viaResponder[index] == viaTrie[index], "\(request.method) \(request.path)")
        }
        // The answers are each owner's, not merely equal.
        let expected: [(index: Int, status: String, text: String)] = [
            (0, "200", "Switchboard.Shell"), (1, "404", ""), (5, "200", "\"DataCount\": 2"), (8, "400", "6 segments"),
            (12, "501", "MethodNotImplemented"), (15, "426", "WebSocket upgrade"), (16, "404", ""), (18, "200", "Batman"), (20, "200", "hello\n"),
            (21, "404", ""), (24, "400", ""),
            (22, withARouteBelowTheRoot ? "200" : "404", withARouteBelowTheRoot ? "the application's own\n" : "late"),
        ]
        for (index, status, text) in expected {
            #expect(viaResponder[index].hasPrefix("HTTP/1.1 \(status)") && (text.isEmpty || viaResponder[index].contains(text)), "\(viaResponder[index])")
        }
    }

    /// One request on a connection of its own, and its answer without what varies between runs (`Date`,
    /// `Server`, the elapsed time).
    static func answer(_ request: (method: String, path: String, body: String?), port: Int) async throws -> String {
        let socket = try RawSocket(port: port)
        var head = "\(request.method) \(request.path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        if let body = request.body { head += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        try socket.write(Array((head + "\r\n" + (request.body ?? "")).utf8))
        let response = String(decoding: try await onOwnThread { try socket.readToEnd() }, as: UTF8.self)
        let varying = ["date:", "server:", "switchboard-elapsed-ms:", "content-length:"]
        let lines = response.components(separatedBy: "\r\n").filter { line in !varying.contains { line.lowercased().hasPrefix($0) } }
        return lines.joined(separator: "\r\n").replacing(#/"TimeElapsedMs": [0-9.]+/#, with: #""TimeElapsedMs": 0"#)
    }
}
