import Foundation
import Switchboard
import Testing

@testable import SwitchboardTestSupport

/// Two `switchboard serve --database` instances as one system (`SWITCHBOARD_TEST_POSTGRES`): a chat room that
/// spans them, listings and DELETEs of connections and PTY programs across them, the admin console's feed of
/// both, and an instance that dies leaving the listings.
extension CommandLineTests {
    /// The rows of a GET, or `[]` if it failed.
    static func rows(port: Int, _ path: String, token: String) async -> [JSONObject] {
        guard let response = try? await RawHTTP.request(port: port, "GET", path, headers: ["Authorization: Bearer \(token)", "Accept: application/json"]),
            response.status == 200, case .object(let body)? = try? JSON(parsing: response.body), case .array(let rows)? = body["Data"]
        else { return [] }
        return rows.compactMap { if case .object(let row) = $0 { row } else { nil } }
    }

    /// Messages until one contains `marker` (binary ones as UTF-8).
    static func read(_ client: WebSocketTestClient, until marker: String) async throws -> [String] {
        var seen: [String] = []
        while seen.last?.contains(marker) != true {
            switch await client.receive() {
            case .text(let text): seen.append(text)
            case .binary(let bytes): seen.append(String(buffer: bytes))
            case nil: throw TestFailure("the connection closed before '\(marker)': \(seen)")
            }
        }
        return seen
    }

    @Test(.enabled(if: postgresURL != nil, "needs SWITCHBOARD_TEST_POSTGRES (.ci/run starts PostgreSQL)"))
    func twoInstancesAreOneSystemForChatListingsDeletesAndTheConsole() async throws {
        let url = try #require(Self.postgresURL)
        let tag = UUID().uuidString.prefix(6).lowercased()
        let (names, data) = (["one-\(tag)", "two-\(tag)"], [Self.temporaryDirectory(), Self.temporaryDirectory()])
        defer { for directory in data { try? FileManager.default.removeItem(atPath: directory) } }
        let (one, onePort) = try await startServe(dataDirectory: data[0], ["--database", url, "--instance", names[0]])
        defer { if one.isRunning { one.terminate() } }
        let (two, twoPort) = try await startServe(dataDirectory: data[1], ["--database", url, "--instance", names[1]])
        defer { if two.isRunning { two.terminate() } }
        let tokens = [try Self.token(data[0]), try Self.token(data[1])]
        func connect(_ port: Int, _ token: String, _ path: String) async throws -> WebSocketTestClient {
            try await WebSocketTestClient.connect("ws://127.0.0.1:\(port)/api\(path)", headers: [("Authorization", "Bearer \(token)")])
        }

        // The console on instance one, open before anything else happens.
        let console = try await connect(onePort, tokens[0], "/admin.console/status=open")
        _ = try await Self.read(console, until: "Events of the API")

        // A chat room across the two: each hears the other, in order.
        let room = "room-\(tag)"
        // A member's welcome comes a moment before its terminal is open, and so reachable by the room; a global
        // command is read only after that.
        func joined(_ member: WebSocketTestClient) async throws {
            _ = try await Self.read(member, until: "Welcome")
            member.send("#TERMINAL")
            _ = try await Self.read(member, until: "\"Room\"")
        }
        let ada = try await connect(onePort, tokens[0], "/chatroom/nickname=Ada&room=\(room)")
        try await joined(ada)
        let grace = try await connect(twoPort, tokens[1], "/chatroom/nickname=Grace&room=\(room)")
        try await joined(grace)
        _ = try await Self.read(ada, until: "* Grace joined")
        for number in 1...5 { ada.send("line \(number)") }
        let heard = try await Self.read(grace, until: "Ada: line 5").filter { $0.hasPrefix("Ada: ") }
        #expect(heard == (1...5).map { "Ada: line \($0)" })
        grace.send("hi Ada")
        #expect(try await Self.read(ada, until: "Grace: hi Ada").last == "Grace: hi Ada")

        // The console on one shows what happens on two, naming the instance.
        let fromTwo = try await Self.read(console, until: "[\(names[1])/")
        #expect(fromTwo.last?.contains("[\(names[1])/") == true)

        // A named PTY on instance two, listed and ended through instance one.
        let shell = try await connect(twoPort, tokens[1], "/pty/name=shared-\(tag)")
        let ptyPath = "/api/switchboard.ptysession/name=shared-\(tag)"
        #expect(await eventuallyAsync { await Self.rows(port: onePort, ptyPath, token: tokens[0]).first?["Instance"] == .string(names[1]) })
        let ended = try await RawHTTP.request(port: onePort, "DELETE", ptyPath, headers: ["Authorization: Bearer \(tokens[0])"])
        #expect(ended.body.contains("\"DeletedCount\": 1"), "\(ended.body)")
        // Its client is told, and returns to the Shell.
        #expect(try await Self.read(shell, until: "200: OK. The program").last?.contains("200: OK. The program") == true)
        try await shell.close()
        #expect(await Self.rows(port: twoPort, ptyPath, token: tokens[1]).isEmpty)

        // Grace's connection, listed and closed through instance one.
        let gracePath = "/api/admin.websocket/instance=\(names[1])&terminalType=SwitchboardSamples.ChatRoom"
        #expect(await eventuallyAsync { await Self.rows(port: onePort, gracePath, token: tokens[0]).count == 1 })
        let listed = await Self.rows(port: onePort, "/api/admin.websocket", token: tokens[0])
        let instances = Set(listed.compactMap { row -> String? in if case .string(let name)? = row["Instance"] { name } else { nil } })
        #expect(instances.isSuperset(of: names))
        let closed = try await RawHTTP.request(port: onePort, "DELETE", gracePath, headers: ["Authorization: Bearer \(tokens[0])"])
        #expect(closed.body.contains("\"DeletedCount\": 1"), "\(closed.body)")
        #expect(try await grace.closeFrame()?.code == 1000)
        _ = try await Self.read(ada, until: "* Grace left")

        // Instance two dies: within seconds, one lists none of its connections.
        let watcher = try await connect(twoPort, tokens[1], "/echo")
        #expect(await eventuallyAsync { await Self.rows(port: onePort, "/api/admin.websocket/instance=\(names[1])", token: tokens[0]).count == 1 })
        kill(two.processIdentifier, SIGKILL)
        try await onOwnThread { two.waitUntilExit() }
        #expect(await eventuallyAsync { await Self.rows(port: onePort, "/api/admin.websocket/instance=\(names[1])", token: tokens[0]).isEmpty })
        _ = try? await watcher.closeFrame()
        for client in [ada, console] { try await client.close() }
        one.terminate()
        try await onOwnThread { one.waitUntilExit() }
    }

    @Test(.enabled(if: postgresURL != nil, "needs SWITCHBOARD_TEST_POSTGRES (.ci/run starts PostgreSQL)"))
    func aCallerSeesAndEndsOnlyTheirOwnProgramsOnEveryInstance() async throws {
        let url = try #require(Self.postgresURL)
        let tag = UUID().uuidString.prefix(6).lowercased()
        let (data, other) = (Self.temporaryDirectory(), Self.temporaryDirectory())
        let keys = data + "/keys.json"
        defer { for path in [data, other] { try? FileManager.default.removeItem(atPath: path) } }
        var keyHeaders: [String: String] = [:]
        for (name, rights) in [("alice", "Switchboard.Pty,Switchboard.PtySession:*"), ("bob", "Switchboard.Pty,Switchboard.PtySession:*"), ("root", "*:*")] {
            let added = try await run(["keys", "add", name, "--allow", rights, "--file", keys], input: "")
            #expect(added.status == 0, "\(added.err)")
            keyHeaders[name] = "Authorization: Bearer " + added.out.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let key = keyHeaders
        let shared = ["--database", url, "--keys", keys]
        let (one, onePort) = try await startServe(dataDirectory: data, shared + ["--instance", "one-\(tag)"])
        defer { if one.isRunning { one.terminate() } }
        let (two, twoPort) = try await startServe(dataDirectory: other, shared + ["--instance", "two-\(tag)"])
        defer { if two.isRunning { two.terminate() } }
        func open(_ port: Int, as name: String, _ terminal: String) async throws -> WebSocketTestClient {
            let header = try #require(key[name]).split(separator: " ", maxSplits: 1).map(String.init)
            return try await WebSocketTestClient.connect(
                "ws://127.0.0.1:\(port)/api/pty/name=\(terminal)", headers: [(String(header[0].dropLast()), header[1])])
        }
        @Sendable func names(_ port: Int, as name: String) async -> [String] {
            guard let header = key[name],
                let response = try? await RawHTTP.request(port: port, "GET", "/api/switchboard.ptysession", headers: [header]),
                case .object(let body)? = try? JSON(parsing: response.body), case .array(let rows)? = body["Data"]
            else { return [] }
            return rows.compactMap { row in
                if case .object(let row) = row, case .string(let name)? = row["Name"], name.hasSuffix(tag) { name } else { nil }
            }.sorted()
        }
        // Alice's program runs on two, Bob's on one.
        let alices = try await open(twoPort, as: "alice", "a-\(tag)")
        let bobs = try await open(onePort, as: "bob", "b-\(tag)")
        // Each instance tells the others what it runs once a second.
        for port in [onePort, twoPort] {
            #expect(await eventuallyAsync { await names(port, as: "root") == ["a-\(tag)", "b-\(tag)"] }, "an administrator sees both, anywhere")
        }
        #expect(await names(onePort, as: "alice") == ["a-\(tag)"], "Alice sees her own on the other instance, not Bob's here")
        #expect(await names(twoPort, as: "bob") == ["b-\(tag)"])
        // Bob cannot end Alice's program from either instance; Alice can, from the instance that does not run it.
        for port in [onePort, twoPort] {
            let refused = try await RawHTTP.request(port: port, "DELETE", "/api/switchboard.ptysession/name=a-\(tag)", headers: [try #require(key["bob"])])
            #expect(refused.body.contains("\"DeletedCount\": 0"), "\(refused.body)")
        }
        #expect(await names(twoPort, as: "alice") == ["a-\(tag)"])
        let ended = try await RawHTTP.request(port: onePort, "DELETE", "/api/switchboard.ptysession/name=a-\(tag)", headers: [try #require(key["alice"])])
        #expect(ended.body.contains("\"DeletedCount\": 1"), "\(ended.body)")
        _ = try await Self.read(alices, until: "200: OK. The program")
        for client in [alices, bobs] { try await client.close() }
        for process in [one, two] {
            process.terminate()
            try await onOwnThread { process.waitUntilExit() }
        }
    }
}
