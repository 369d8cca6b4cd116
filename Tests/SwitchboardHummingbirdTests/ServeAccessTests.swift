import Foundation
import Testing

/// `switchboard serve`'s safe defaults, its key file and `switchboard connect` finding the token, with the
/// real binary.
extension CommandLineTests {
    @Test func serveMakesAnOwnerOnlyTokenThatConnectFindsByItself() async throws {
        let data = Self.temporaryDirectory()
        let runtime = Self.temporaryDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: data)
            try? FileManager.default.removeItem(atPath: runtime)
        }
        let environment = ["XDG_RUNTIME_DIR": runtime, "SWITCHBOARD_TOKEN": ""]
        let (process, port, log) = try await startServeWithLog(dataDirectory: data, environment: environment).get()
        defer { if process.isRunning { process.terminate() } }
        let token = try Self.token(data)
        #expect(token.count == 43)
        for (path, mode) in [(data + "/token", 0o600), (data, 0o700), (runtime + "/switchboard/server-\(port).token", 0o600)] {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect((attributes[.posixPermissions] as? Int) == mode, "\(path)")
        }
        // Standard error is not a terminal here: the greeting says where the token is, never the token.
        #expect(!log.contains(token))
        #expect(log.contains("http://127.0.0.1:\(port)/console?token=$(cat \(data)/token)"))
        #expect(log.contains("curl -H \"Authorization: Bearer $(cat \(data)/token)\" http://127.0.0.1:\(port)/api"))
        #expect(try await RawHTTP.request(port: port, "GET", "/api").status == 401)

        let found = try await run(
            ["connect", "ws://127.0.0.1:\(port)/api/shell", "--drain", "5"], input: "#INFO\n", environment: environment)
        #expect(found.status == 0, "\(found.err)")
        #expect(found.out.contains("\"CurrentTerminal\": \"Switchboard.Shell\""))
        #expect(!found.out.contains(token))
        let wrong = try await run(
            ["connect", "ws://127.0.0.1:\(port)/api/shell"], input: "", environment: ["SWITCHBOARD_TOKEN": "not-the-token-at-all"])
        #expect(wrong.status == 2)
        #expect(wrong.err.contains("HTTP 401"), "\(wrong.err)")
        #expect(wrong.err.contains("--token"))
        process.terminate()
        try await onOwnThread { process.waitUntilExit() }
        #expect(!FileManager.default.fileExists(atPath: runtime + "/switchboard/server-\(port).token"), "removed at stop")
    }

    @Test func noAuthIsRefusedOffLoopbackAndWarnsOnIt() async throws {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let refused = try await run(["serve", "--host", "0.0.0.0", "--port", "0", "--no-auth", "--data-dir", data], input: "")
        #expect(refused.status != 0)
        #expect(refused.err.contains("--no-auth is refused on a non-loopback address"))
        let (process, port, log) = try await startServeWithLog(dataDirectory: data, ["--no-auth"]).get()
        defer { if process.isRunning { process.terminate() } }
        #expect(log.contains("Authentication is off"))
        #expect(try await RawHTTP.request(port: port, "GET", "/api").status == 200)
        // Authentication off does not open the door to other web pages.
        #expect(try await RawHTTP.request(port: port, "GET", "/api", hostHeader: "evil.example").status == 403)
        process.terminate()
        try await onOwnThread { process.waitUntilExit() }
    }

    @Test func keysAreAddedPrintedOnceAndReloadedOnSIGHUPWhichDisconnectsRemovedOnes() async throws {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let file = data + "/keys.json"
        let added = try await run(
            ["keys", "add", "alice", "--allow", "SwitchboardSamples.Echo,SwitchboardSamples.Superhero:GET", "--file", file], input: "")
        #expect(added.status == 0, "\(added.err)")
        let alice = added.out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(alice.count == 43)
        let stored = try String(contentsOfFile: file, encoding: .utf8)
        #expect(!stored.contains(alice), "only the hash is kept")
        #expect((try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int) == 0o600)

        let (process, port, log) = try await startServeWithLog(dataDirectory: data).get()
        defer { if process.isRunning { process.terminate() } }
        #expect(log.contains("Keys from \(file)"))
        #expect(!FileManager.default.fileExists(atPath: data + "/token"), "a key file replaces the generated token")
        let asAlice = ["Authorization: Bearer \(alice)"]
        #expect(try await RawHTTP.request(port: port, "GET", "/api/superhero", headers: asAlice).status == 200)
        #expect(try await RawHTTP.request(port: port, "GET", "/api/admin.websocket", headers: asAlice).status == 403)
        let connected = try await WebSocketTestClient.connect("ws://127.0.0.1:\(port)/api/echo", headers: [("Authorization", "Bearer \(alice)")])

        let bobAdded = try await run(["keys", "add", "bob", "--allow", "*:*", "--file", file], input: "")
        let bob = bobAdded.out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await RawHTTP.request(port: port, "GET", "/api", headers: ["Authorization: Bearer \(bob)"]).status == 401)
        #expect(try await run(["keys", "remove", "alice", "--file", file], input: "").status == 0)
        kill(process.processIdentifier, SIGHUP)
        let close = try await connected.closeFrame()
        #expect(close?.code == 1008)
        #expect(close?.reason == "The key was revoked")
        #expect(try await RawHTTP.request(port: port, "GET", "/api/superhero", headers: asAlice).status == 401)
        #expect(try await RawHTTP.request(port: port, "GET", "/api/admin.websocket", headers: ["Authorization: Bearer \(bob)"]).status == 200)
        let listed = try await run(["keys", "list", "--file", file], input: "")
        #expect(listed.out == "bob: *:*\n")
        process.terminate()
        try await onOwnThread { process.waitUntilExit() }
    }
}
