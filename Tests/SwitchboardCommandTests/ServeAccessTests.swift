import Foundation
import Testing

@testable import SwitchboardTestSupport

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
        #expect(log.contains("http://127.0.0.1:\(port)/console#token=$(cat \(data)/token)"))
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
        // A path that opens no WebSocket says so: outside the API root, and a page that a plain GET finds.
        for (path, reason) in [
            (
                "/shell",
                "HTTP 404: nothing at this path: a Switchboard server's terminals are below its API root, such as /api/shell; is this a Switchboard server?"
            ),
            ("/health", "nothing opens a WebSocket at this path (a plain GET of it is answered HTTP 200)"),
        ] {
            let elsewhere = try await run(["connect", "ws://127.0.0.1:\(port)\(path)"], input: "", environment: environment)
            #expect(elsewhere.status == 2)
            #expect(elsewhere.err.contains(reason), "\(path): \(elsewhere.err)")
        }
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

    /// The first run: `serve` with its token, then `switchboard keys add` to the same data directory, as its
    /// message says, then SIGHUP. The server read no key file on SIGHUP when it had started without one.
    @Test func aKeyFileMadeWhileServeRunsWithItsTokenIsReadOnSIGHUP() async throws {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let (process, port) = try await startServe(dataDirectory: data)
        defer { if process.isRunning { process.terminate() } }
        let token = try Self.token(data)
        let both = try await run(["keys", "list", "--data-dir", data, "--file", data + "/keys.json"], input: "")
        #expect(both.status == 64)
        #expect(both.err.contains("--file and --data-dir both name the key file; give one of them"), "\(both.err)")
        let added = try await run(["keys", "add", "dave", "--allow", "SwitchboardSamples.Superhero:GET", "--data-dir", data], input: "")
        #expect(added.status == 0, "\(added.err)")
        #expect(added.err.contains("Key 'dave' added to \(data)/keys.json."), "\(added.err)")
        let asDave = ["Authorization: Bearer " + added.out.trimmingCharacters(in: .whitespacesAndNewlines)]
        #expect(try await RawHTTP.request(port: port, "GET", "/api/superhero", headers: asDave).status == 401)
        kill(process.processIdentifier, SIGHUP)
        // No event says the file was read: wait for the key to work.
        #expect(await eventuallyAsync { (try? await RawHTTP.request(port: port, "GET", "/api/superhero", headers: asDave).status) == 200 })
        #expect(try await RawHTTP.request(port: port, "GET", "/api/admin.websocket", headers: asDave).status == 403)
        #expect(try await RawHTTP.request(port: port, "GET", "/api/admin.websocket", headers: ["Authorization: Bearer \(token)"]).status == 200)
        #expect(try await run(["keys", "list", "--data-dir", data], input: "").out == "dave: SwitchboardSamples.Superhero:GET\n")
        process.terminate()
        try await onOwnThread { process.waitUntilExit() }
    }

    /// A key file that other users can change is not trusted: whoever writes it gives a key of their own every
    /// right, a PTY shell as this user included. It was read as it was. `keys add` writes it owner-only again.
    @Test func aKeyFileThatOthersCanChangeStopsServe() async throws {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let file = data + "/keys.json"
        #expect(try await run(["keys", "add", "alice", "--allow", "*:*", "--file", file], input: "").status == 0)
        for (mode, who) in [(0o666, "every user"), (0o620, "its group")] {
            chmod(file, mode_t(mode))
            let refused = try await run(["serve", "--port", "0", "--data-dir", data], input: "")
            #expect(refused.status == 64, "\(refused.err)")
            #expect(
                refused.err.contains(
                    "The key file '\(file)' can be changed by \(who) (mode \(String(mode, radix: 8))), and whoever changes it gives a key every right; it is not used; `chmod 600 '\(file)'`"
                ), "\(refused.err)")
        }
        #expect(try await run(["keys", "add", "bob", "--file", file], input: "").status == 0)
        #expect((try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int) == 0o600)
        let (process, _, log) = try await startServeWithLog(dataDirectory: data).get()
        defer { if process.isRunning { process.terminate() } }
        #expect(log.contains("Keys from \(file)"))
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
        // The directory the user named is left as it was (a key file in /tmp once closed /tmp to everyone else).
        let open = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: open) }
        try FileManager.default.createDirectory(atPath: open, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        #expect(try await run(["keys", "add", "carol", "--file", open + "/keys.json"], input: "").status == 0)
        #expect((try FileManager.default.attributesOfItem(atPath: open)[.posixPermissions] as? Int) == 0o755)
        #expect((try FileManager.default.attributesOfItem(atPath: open + "/keys.json")[.posixPermissions] as? Int) == 0o600)

        // A grant names resources in full: `superhero` covers none, and both `keys add` and `serve` say so.
        let shortName = try await run(["keys", "add", "dan", "--allow", "superhero:GET", "--allow", "Nope.*:GET", "--file", file], input: "")
        #expect(shortName.err.contains("'superhero' covers only a resource of that full name: grants name resources in full"), "\(shortName.err)")

        let (process, port, log) = try await startServeWithLog(dataDirectory: data).get()
        defer { if process.isRunning { process.terminate() } }
        #expect(log.contains("Keys from \(file)"))
        #expect(
            log.contains(
                "The grant of key 'dan' on 'superhero' covers no resource of this server; grants name resources in full: did you mean SwitchboardSamples.Superhero?"
            ), "\(log)")
        #expect(log.contains("The grant of key 'dan' on 'Nope.*' covers no resource of this server\n"))
        #expect(!log.contains("The grant of key 'alice'"))
        #expect(try await run(["keys", "remove", "dan", "--file", file], input: "").status == 0)
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
        // A name taken or missing is said alone: the command line was right (it came with the usage).
        let taken = try await run(["keys", "add", "bob", "--file", file], input: "")
        #expect(taken.status == 1 && taken.err == "Error: There is already a key named 'bob'; remove it first to replace it\n", "\(taken.err)")
        let missing = try await run(["keys", "remove", "nobody", "--file", file], input: "")
        #expect(missing.status == 1 && missing.err == "Error: No key is named 'nobody'\n", "\(missing.err)")
        // A key without grants is said to have no rights, when it is made and when it is listed.
        let carolAdded = try await run(["keys", "add", "carol", "--file", file], input: "")
        #expect(carolAdded.err.contains("It has no rights: every request with it is refused (403); add it again with --allow."))
        #expect(try await run(["keys", "list", "--file", file], input: "").out == "bob: *:*\ncarol: (no rights)\n")
        process.terminate()
        try await onOwnThread { process.waitUntilExit() }
    }
}

/// TLS with a certificate the test makes: `wss://` through Python's `websockets` and `switchboard connect
/// --ca`, `https://` through Python, plain `ws://` refused, and the certificate reloaded on SIGHUP.
extension CommandLineTests {
    /// The PEM certificate the server on `port` presents, as Python reads it.
    func presentedCertificate(port: Int) async throws -> String {
        let script = "import ssl; print(ssl.get_server_certificate(('127.0.0.1', \(port))).strip())"
        return try await run(command: ["python3", "-c", script]).output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func tlsServesWssAndHttpsAndReloadsTheCertificateOnSIGHUP() async throws {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let first = try makeSelfSignedCertificate(in: data + "/tls", name: "first")
        let (process, port, log) = try await startServeWithLog(
            dataDirectory: data, ["--tls-cert", first.certificate, "--tls-key", first.key], environment: ["XDG_RUNTIME_DIR": data]
        ).get()
        defer { if process.isRunning { process.terminate() } }
        #expect(log.contains("switchboard connect wss://127.0.0.1:\(port)/api/shell"))
        #expect(log.contains("https://127.0.0.1:\(port)/console#token="))
        let token = try Self.token(data)
        let auth = [("Authorization", "Bearer \(token)")]

        let secure = try await WebSocketTestClient.connect("wss://127.0.0.1:\(port)/api/echo", headers: auth, trusting: first.certificate)
        secure.send("#INFO")
        #expect(try await secure.receiveText().contains("\"IsEncrypted\": true"))
        await #expect(throws: (any Error).self) {
            _ = try await WebSocketTestClient.connect("ws://127.0.0.1:\(port)/api/echo", headers: auth)
        }
        let connected = try await run(
            ["connect", "wss://127.0.0.1:\(port)/api/shell", "--ca", first.certificate, "--drain", "5"], input: "#INFO\n",
            environment: ["XDG_RUNTIME_DIR": data])
        #expect(connected.status == 0, "\(connected.err)")
        #expect(connected.out.contains("\"IsEncrypted\": true"))
        let untrusted = try await run(["connect", "wss://127.0.0.1:\(port)/api/shell", "--token", token], input: "")
        #expect(untrusted.status == 2, "a self-signed certificate is not trusted without --ca")
        let https = try await run(command: [
            "python3", "-c",
            "import ssl, urllib.request; c = ssl.create_default_context(cafile='\(first.certificate)'); "
                + "r = urllib.request.Request('https://127.0.0.1:\(port)/api', headers={'Authorization': 'Bearer \(token)'}); "
                + "print(urllib.request.urlopen(r, context=c).status)",
        ])
        #expect(https.output.hasPrefix("200"), "\(https.output)")

        // A new certificate in the same files, then SIGHUP: new connections get it, open ones go on.
        let firstPEM = try await presentedCertificate(port: port)
        let second = try makeSelfSignedCertificate(in: data + "/tls", name: "second")
        try FileManager.default.removeItem(atPath: first.certificate)
        try FileManager.default.removeItem(atPath: first.key)
        try FileManager.default.copyItem(atPath: second.certificate, toPath: first.certificate)
        try FileManager.default.copyItem(atPath: second.key, toPath: first.key)
        kill(process.processIdentifier, SIGHUP)
        let secondPEM = try String(contentsOfFile: second.certificate, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        var presented = firstPEM
        for _ in 0..<100 where presented != secondPEM {
            presented = try await presentedCertificate(port: port)
        }
        #expect(presented == secondPEM)
        #expect(presented != firstPEM)
        secure.send("still open")
        #expect(try await secure.receiveText() == "still open")
        try await secure.close()
        process.terminate()
        try await onOwnThread { process.waitUntilExit() }
    }
}
