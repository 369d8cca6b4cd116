import Foundation
import Switchboard
import Synchronization
import Testing

@testable import SwitchboardTestSupport

@Suite(.serialized, .timeLimit(.minutes(2)))
struct CommandLineTests {
    /// Runs the binary with standard input, returns standard output, standard error and the exit status.
    func run(_ arguments: [String], input: String, environment: [String: String] = [:]) async throws -> (out: String, err: String, status: Int32) {
        let process = Process()
        process.executableURL = try SwitchboardBinary.url
        process.arguments = arguments
        process.environment = Self.environment(environment)
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        return try await onOwnThread {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try stdin.fileHandleForWriting.close()
            let errorData = Thread.detachNewThreadReading(stderr.fileHandleForReading)
            let out = stdout.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (String(decoding: out, as: UTF8.self), String(decoding: errorData(), as: UTF8.self), process.terminationStatus)
        }
    }

    @Test func connectSendsPipedLinesPrintsRepliesAndExits() async throws {
        try await TestServer.with { server in
            let result = try await run(
                // Ends on the last reply, however long a loaded server takes (no quiet period).
                ["connect", server.base + "/api/shell", "-H", "X-Test: piped", "--until", ">hello"],
                input: "#INFO\n/echo/prefix=%3E\nGET\nhello\n")
            #expect(result.status == 0, "\(result.err)")
            let lines = result.out.split(separator: "\n").map(String.init)
            #expect(lines.first == shellBanner)
            #expect(result.out.contains("\"WebSocketId\""))
            #expect(result.out.contains("\"X-Test\": \"piped\""))
            #expect(lines.contains("? /SwitchboardSamples.Echo/Prefix=>"))
            #expect(lines.last == ">hello")
            #expect(result.err.contains("Connection closed (1000)"))
        }
    }

    @Test func connectPrintsBinaryAsTextOrSizeAndTheServersClose() async throws {
        try await TestServer.with { server in
            // The server closes the connection; the long drain only keeps the client from giving up first on a loaded machine.
            let result = try await run(["connect", server.base + "/api/blocker", "--drain", "60"], input: "binary\nclose\n")
            #expect(result.status == 1)
            #expect(result.out == "binary but UTF-8\n<binary message: 4 bytes>\n")
            #expect(result.err.contains("Connection closed (4409): 409: Conflict. Closed on request"))
        }
    }

    /// Starts `switchboard serve` on a free port with its data in `dataDirectory`; returns the process and port.
    func startServe(dataDirectory: String, _ extra: [String] = [], environment: [String: String] = [:]) async throws -> (Process, Int) {
        try await startServeWithLog(dataDirectory: dataDirectory, extra, environment: environment).map { ($0.0, $0.1) }.get()
    }

    /// The access token `serve` keeps in its data directory.
    static func token(_ dataDirectory: String) throws -> String {
        try String(contentsOfFile: dataDirectory + "/token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Starts `switchboard serve`; returns the process, the port and what it wrote to standard error until then.
    /// With a `launcher` (a command that runs the one after it in its place, such as `prlimit --nofile=…`), the
    /// server is started through it.
    func startServeWithLog(
        dataDirectory: String, _ extra: [String] = [], environment: [String: String] = [:], launcher: [String] = []
    ) async throws -> Result<(Process, Int, String), any Error> {
        let process = Process()
        let arguments = ["serve", "--port", "0", "--data-dir", dataDirectory] + extra
        if launcher.isEmpty {
            process.executableURL = try SwitchboardBinary.url
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = launcher + [try SwitchboardBinary.url.path] + arguments
        }
        process.environment = Self.environment(environment)
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let reader = stderr.fileHandleForReading
        let (log, port) = try await onOwnThread { () -> (String, Int?) in
            var log = ""
            while true {
                let data = reader.availableData
                if data.isEmpty { return (log, nil) }
                log += String(decoding: data, as: UTF8.self)
                // The greeting ends with the sample data's place.
                if let range = log.range(of: #"listening on 127\.0\.0\.1:(\d+)\n(.|\n)*Sample data"#, options: .regularExpression) {
                    let line = log[range].split(separator: "\n").first ?? ""
                    return (log, Int(line.split(separator: ":").last ?? ""))
                }
            }
        }
        guard let port else {
            process.terminate()
            throw TestFailure("no port in: \(log)")
        }
        // Keep reading standard error so that the server never blocks on a full pipe; what it writes later is
        // kept for a failed expectation to show (``laterLog(of:)``).
        let id = process.processIdentifier
        Thread {
            while case let data = reader.availableData, !data.isEmpty {
                Self.laterLogs.withLock { logs in
                    if logs[id, default: ""].utf8.count < 1 << 20 { logs[id, default: ""] += String(decoding: data, as: UTF8.self) }
                }
            }
        }.start()
        return .success((process, port, log))
    }

    /// What each `serve` started by ``startServeWithLog(dataDirectory:_:environment:launcher:)`` wrote to standard
    /// error after its greeting (its first MiB), by process identifier.
    static let laterLogs = Mutex<[Int32: String]>([:])

    /// What `process` (a `serve` of ``startServeWithLog(dataDirectory:_:environment:launcher:)``) wrote to standard
    /// error after its greeting, so far.
    static func laterLog(of process: Process) -> String {
        laterLogs.withLock { $0[process.processIdentifier] } ?? ""
    }

    /// The environment of the `switchboard` processes these tests start: the test's own with `HOME` an empty
    /// directory of this test run, then `extra`. The shells a `serve` starts inherit `HOME`, so they read no rc
    /// file of this machine's user: a `.bashrc` is the user's business, not the test's, and one that runs
    /// `pyenv init` waits 60 s for the lock of `pyenv rehash` whenever an earlier shell was hung up while it
    /// held it (pyenv takes the lock before it sets the trap that removes it, and these tests end shells
    /// within milliseconds of their start). `serve` and `connect` share this `HOME`, so a token one leaves there
    /// the other finds.
    static func environment(_ extra: [String: String]) -> [String: String] {
        ProcessInfo.processInfo.environment.merging(["HOME": home]) { $1 }.merging(extra) { $1 }
    }

    /// The empty `HOME` of ``environment(_:)``, one per test run.
    static let home: String = {
        let path = temporaryDirectory()
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return path
    }()

    static func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-test-\(UUID().uuidString)").path
    }

    @Test func serveAnswersAndStopsCleanlyOnSIGTERM() async throws {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let (process, found) = try await startServe(dataDirectory: data)
        defer { if process.isRunning { process.terminate() } }
        // The health check needs no key (a load balancer's or an orchestrator's probe has none), and answers only
        // the hosts the server answers.
        let health = try await RawHTTP.request(port: found, "GET", "/health")
        #expect(health.status == 200)
        #expect(health.body == "ok\n")
        #expect(RawHTTP.header("Content-Type", in: health.head) == "text/plain; charset=utf-8")
        #expect(try await RawHTTP.request(port: found, "HEAD", "/health").status == 200)
        #expect(try await RawHTTP.request(port: found, "GET", "/health", hostHeader: "evil.example").status == 403)
        let client = try await WebSocketTestClient.connect(
            "ws://127.0.0.1:\(found)/api/echo", headers: [("Authorization", "Bearer \(try Self.token(data))")])
        client.send("ping")
        #expect(try await client.receiveText() == "ping")
        // The template samples run in serve: a command terminal and a feed terminal.
        let auth = [("Authorization", "Bearer \(try Self.token(data))")]
        let dice = try await WebSocketTestClient.connect("ws://127.0.0.1:\(found)/api/dice/silent=true", headers: auth)
        dice.send("roll 6 2")
        #expect(try await dice.receiveText().split(separator: " ").compactMap { Int($0) }.allSatisfy { (1...6).contains($0) })
        try await dice.close()
        let ticker = try await WebSocketTestClient.connect("ws://127.0.0.1:\(found)/api/ticker/status=open&interval=100", headers: auth)
        #expect(try await ticker.receiveText().hasPrefix("### Ticker ###"))
        #expect(try await ticker.receiveText().hasPrefix("20"))
        try await ticker.close()
        process.terminate()
        let close = try await client.closeFrame()
        #expect(close?.code == 1001)
        try await onOwnThread { process.waitUntilExit() }
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0, "\(Self.laterLog(of: process))")
    }

    @Test func serveKeepsWhatWasPostedAcrossARestart() async throws {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let (first, port) = try await startServe(dataDirectory: data)
        defer { if first.isRunning { first.terminate() } }
        let auth = ["Authorization: Bearer \(try Self.token(data))"]
        let seeded = try await RawHTTP.request(port: port, "REPORT", "/api/superhero", headers: auth)
        #expect(seeded.body.contains("\"Count\": 6"), "seeded on first start")
        let posted = try await RawHTTP.request(
            port: port, "POST", "/api/superhero", headers: auth + ["Content-Type: application/json"],
            body: #"{"Name": "Hulk", "Year": 1962, "HasSecretIdentity": false}"#)
        #expect(posted.status == 201)
        first.terminate()
        try await onOwnThread { first.waitUntilExit() }
        #expect(first.terminationStatus == 0)

        let (second, secondPort) = try await startServe(dataDirectory: data)
        defer { if second.isRunning { second.terminate() } }
        let newAuth = ["Authorization: Bearer \(try Self.token(data))"]
        #expect(newAuth != auth, "a new token at each start")
        #expect(try await RawHTTP.request(port: secondPort, "GET", "/api/superhero", headers: auth).status == 401)
        let found = try await RawHTTP.request(port: secondPort, "GET", "/api/superhero/name=Hulk", headers: newAuth)
        #expect(found.body.contains("\"Name\": \"Hulk\""))
        let count = try await RawHTTP.request(port: secondPort, "REPORT", "/api/superhero", headers: newAuth)
        #expect(count.body.contains("\"Count\": 7"), "not seeded twice")
        second.terminate()
        try await onOwnThread { second.waitUntilExit() }
    }

    @Test func sigtermEndsEveryPtyProgramAndItsJobs() async throws {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let (process, port) = try await startServe(dataDirectory: data)
        defer { if process.isRunning { process.terminate() } }
        var pids: [Int32] = []
        var clients: [WebSocketTestClient] = []
        for path in ["/api/pty", "/api/pty/name=kept"] {
            let client = try await WebSocketTestClient.connect(
                "ws://127.0.0.1:\(port)\(path)", headers: [("Authorization", "Bearer \(try Self.token(data))")])
            client.send("sleep 1000 & echo PIDS=$$,$!,E$((0+1))ND")
            let output = try await client.read(until: ",E1ND")
            let numbers = output.components(separatedBy: "PIDS=").last?.components(separatedBy: ",E1ND").first?.split(separator: ",") ?? []
            pids += numbers.compactMap { Int32($0) }
            clients.append(client)
        }
        #expect(pids.count == 4)
        #expect(pids.allSatisfy { kill($0, 0) == 0 })
        process.terminate()
        for client in clients {
            let close = try await client.closeFrame()
            #expect(close?.code == 1001)
        }
        try await onOwnThread { process.waitUntilExit() }
        // Status 0 is the graceful stop: past `--shutdown-timeout` (10 s) the watchdog ends the process with 1.
        // (No figure of our own here: the programs end in about 0.3 s, but a busy CI machine stretches anything.)
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0, "\(Self.laterLog(of: process))")
        // Gone, or dead and waiting for PID 1 to reap it (zombies of a container's init).
        let alive = pids.filter { pid in processState(of: pid).map { $0 != "Z" } ?? false }
        #expect(alive.isEmpty, "still running: \(alive.map { "\($0) \(processState(of: $0).map(String.init) ?? "-")" })")
    }

    /// SIGTERM while a client reads nothing under a flood of output: its close frame waits behind the flood for
    /// ever, so the server drops it 2 s into the shutdown, and stops gracefully (status 0) where it used to wait
    /// for the watchdog and exit with 1. Over TLS (a client of openssl's `s_client` whose output nobody reads)
    /// it is dropped beneath the encryption: TLS's own close would wait 5 s more for the client's close notice,
    /// past this test's `--shutdown-timeout 6` over TLS.
    @Test(arguments: [false, true])
    func sigtermEndsAConnectionWhoseClientReadsNothing(overTLS: Bool) async throws {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let (process, port) = try await startServeWithShortShutdown(dataDirectory: data, overTLS: overTLS)
        defer { if process.isRunning { process.terminate() } }
        let path = "/api(\(try Self.token(data)))/pty"
        let flood: Int32
        var plain: RawSocket?
        let tlsClient = Process()
        defer { if tlsClient.isRunning { tlsClient.terminate() } }
        if overTLS {
            tlsClient.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            tlsClient.arguments = ["s_client", "-connect", "127.0.0.1:\(port)", "-quiet"]
            let input = Pipe()
            tlsClient.standardInput = input
            tlsClient.standardOutput = Pipe()  // never read: once it is full, s_client stops reading the socket
            tlsClient.standardError = FileHandle.nullDevice
            try tlsClient.run()
            let (frame, mark) = RawSocket.floodCommand()
            let upgrade =
                "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            input.fileHandleForWriting.write(Data(upgrade.utf8) + Data(frame))
            flood = try await RawSocket.blockedYes(mark)
        } else {
            let raw = try RawSocket(port: port)
            try await raw.upgrade(path: path)
            flood = try await raw.floodThatNobodyReads()
            #expect(raw.serverEndIsOpen(serverPort: port))
            plain = raw
        }
        try await expectAGracefulExitOnSIGTERM(process)
        #expect(hasEnded(flood))
        if let plain { #expect(!plain.serverEndIsOpen(serverPort: port)) }
    }

    /// The same for an HTTP client that asks and reads none of the answers: Hummingbird's graceful shutdown
    /// waits for the answer being written, which waits for the socket, so the process waited for the watchdog
    /// and exited with status 1. The connection is dropped 2 s into the shutdown, beneath the encryption
    /// over TLS.
    @Test(arguments: [false, true])
    func sigtermEndsAnHTTPConnectionWhoseClientReadsNothing(overTLS: Bool) async throws {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let (process, port) = try await startServeWithShortShutdown(dataDirectory: data, overTLS: overTLS)
        defer { if process.isRunning { process.terminate() } }
        let client = try await UnreadAnswersClient(
            port: port, path: "/api/Switchboard.AvailableResource", tls: overTLS, headers: ["Authorization: Bearer \(try Self.token(data))"])
        defer { if client.process.isRunning { client.process.terminate() } }
        #expect(RawSocket.serverEndIsOpen(serverPort: port, clientPort: client.clientPort))
        try await expectAGracefulExitOnSIGTERM(process)
        try await client.finish()
    }

    /// `serve` raises its soft open-file limit to the hard one. Where the hard limit is low, it keeps its
    /// connections within it: of a flood past the limit, each connection is served, answered `503` or closed
    /// at once, and none is left in the listen queue. (Before, with the same limit, 380 of 450 were served and
    /// 70 waited unanswered: the server could accept no one until connections closed.)
    @Test func serveKeepsItsConnectionsWithinItsOpenFileLimit() async throws {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let (raised, _, raisedLog) = try await startServeWithLog(dataDirectory: data, launcher: ["prlimit", "--nofile=300:"]).get()
        raised.terminate()
        try await onOwnThread { raised.waitUntilExit() }
        #expect(raisedLog.contains("from=300"), "\(raisedLog)")
        #expect(raisedLog.contains("Raised the open-file limit"), "\(raisedLog)")
        #expect(!raisedLog.contains("The open-file limit leaves room"), "\(raisedLog)")

        // 400 files: room for 80 connections, beside 256 files kept for other uses and 64 for refusals.
        let (process, port, log) = try await startServeWithLog(dataDirectory: data, launcher: ["prlimit", "--nofile=400:400"]).get()
        defer { if process.isRunning { process.terminate() } }
        #expect(log.contains("The open-file limit leaves room for 80 connections, fewer than maxTCPConnections (8192)"), "\(log)")
        let flood = try await ConnectionFlood(port: port, count: 450)
        let counts = flood.counts
        #expect(counts["401"] == 80, "\(flood.outcome)")
        #expect(counts["silent"] == 0, "\(flood.outcome)")
        #expect((counts["503"] ?? 0) + (counts["closed"] ?? 0) == 370, "\(flood.outcome)")
        try await flood.finish()
        let port2 = port
        #expect(
            await eventuallyAsync {
                (try? await ConnectionFlood.outcome(port: port2, count: 3, source: "127.0.0.2")) == "401=3 closed=0 silent=0"
            })
        try await expectAGracefulExitOnSIGTERM(process)
    }

    @Test(arguments: [
        (["--max-tcp-connections", "100"], "--max-tcp-connections must be at least --max-connections (4096): every WebSocket connection is a TCP connection"),
        (
            ["--max-connections-per-client", "10", "--max-tcp-connections-per-peer", "5"],
            "--max-tcp-connections-per-peer must be at least --max-connections-per-client (10): every WebSocket connection is a TCP connection"
        ),
        (["--max-connections", "0"], "--max-connections, --max-connections-per-client and --max-rows-per-request must be 1 to 16777216"),
    ])
    func serveRefusesConnectionCapsThatContradictEachOther(arguments: [String], message: String) async throws {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let result = try await run(["serve", "--port", "0", "--data-dir", data] + arguments, input: "")
        #expect(result.status != 0)
        #expect(result.err.contains(message), "\(result.err)")
    }

    /// A number out of its range is refused before anything starts, naming the range: `--port 99999` listened on
    /// 34463 (modulo 65536), a negative interval was taken as given, and an infinite or huge number crashed
    /// the process (exit 132).
    @Test(arguments: [
        (["--port", "99999"], "--port must be 0 (a free port) to 65535"),
        (["--api-root", "/x y"], "--api-root must be a path of letters, digits and - . _ ~ (such as /api, /v1/terminals or /)"),
        (["--api-root", "/a(b)"], "--api-root must be a path of letters, digits and - . _ ~"),
        (["--query-timeout", "inf"], "--query-timeout must be above 0 and at most 3600 seconds"),
        (["--max-message-size", "9223372036854775807"], "--max-message-size must be 1 byte to 1 GiB"),
        (["--ping-interval=-5"], "--ping-interval must be 0 (no pings) to 86400 seconds"),
        (["--shutdown-timeout=-3"], "--shutdown-timeout must be 0 (no deadline) to 3600 seconds"),
        (["--max-connections", "9223372036854775807"], "--max-connections, --max-connections-per-client and --max-rows-per-request must be 1 to"),
        // Not a number, but refused the same way: a directory without xterm.js started a server whose console could not start.
        (["--xterm-dir", "/nonexistent"], "--xterm-dir '/nonexistent' has no readable xterm.js: it holds a browser build of xterm.js"),
    ])
    func serveRefusesNumbersOutOfRange(arguments: [String], message: String) async throws {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let result = try await run(["serve", "--port", "0", "--data-dir", data] + arguments, input: "")
        #expect(result.status == 64, "\(result.err)")
        #expect(result.err.contains(message), "\(result.err)")
        #expect(!FileManager.default.fileExists(atPath: data + "/samples.sqlite"), "nothing started")
    }

    /// A token is refused before anything starts when it is short, or when it could not travel in the URIs
    /// that `serve` prints (`#` ends a path, `%` and `+` are decoded, `&` splits a query): such a token
    /// worked in a header only, and `python -m websockets "ws://…/api(<token>)/shell"` said the URI was not valid.
    @Test(arguments: [
        ("short-token", "The token must be at least 16 characters long"),
        ("Abcdefghijklmnop#q", "The token must be letters, digits and - . _ ~"),
        ("Abcdefghijklmnop+q&r=s", "The token must be letters, digits and - . _ ~"),
        ("Abcdefghijklmnop%41", "The token must be letters, digits and - . _ ~"),
        ("Abcdéfghijklmnopq", "The token must be letters, digits and - . _ ~"),
    ])
    func serveRefusesATokenThatCannotTravelInAURI(token: String, message: String) async throws {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        for way in [["--token", token], []] {
            let result = try await run(
                ["serve", "--port", "0", "--data-dir", data] + way, input: "", environment: way.isEmpty ? ["SWITCHBOARD_TOKEN": token] : [:])
            #expect(result.status == 64, "\(result.err)")
            #expect(result.err.contains(message), "\(result.err)")
            #expect(!FileManager.default.fileExists(atPath: data + "/token"), "no token written")
        }
    }

    /// A URL that is not a WebSocket URL is refused before anything is tried (`127.0.0.1:8080/api/shell` said
    /// "Invalid URL"); a port where nothing listens is said so (it was NIO's account of the error, with its
    /// types and errno).
    @Test(arguments: ["127.0.0.1:8080/api/shell", "localhost:8080/api/shell", "ftp://127.0.0.1/api/shell", "ws:///api/shell"])
    func connectRefusesWhatIsNotAWebSocketURL(url: String) async throws {
        let result = try await run(["connect", url], input: "")
        #expect(result.status == 64, "\(result.err)")
        #expect(result.err.contains("is not a WebSocket URL: it starts with ws:// or wss:// and names a host"), "\(result.err)")
    }

    @Test func connectSaysWhenNothingListens() async throws {
        // A port that was free a moment ago: bound, then closed.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let port = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                _ = bind(listener, address, length)
                _ = getsockname(listener, address, &length)
            }
            return Int(UInt16(bigEndian: pointer.pointee.sin_port))
        }
        close(listener)
        let result = try await run(["connect", "ws://127.0.0.1:\(port)/api/shell"], input: "")
        #expect(result.status == 2, "\(result.err)")
        #expect(
            result.err.contains("connection refused: nothing listens on 127.0.0.1:\(port) (is the server running, on this port?)"),
            "\(result.err)")
    }

    /// `connect` says why a TLS handshake failed, why a server behind `--ca` refused, and gives up on a server
    /// that ends the connection without answering the upgrade. Before, a self-signed certificate and a plain server asked with `wss://` printed
    /// BoringSSL's error (its source file and error numbers), and `ws://` to a TLS port waited for ever:
    /// swift-websocket's client keeps waiting for an answer after the server's end of the connection.
    @Test(.timeLimit(.minutes(1))) func connectSaysWhyATLSHandshakeFailedAndGivesUpOnAnUnansweredUpgrade() async throws {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let files = try makeSelfSignedCertificate(in: data + "/certificate", name: "server")
        let (tls, tlsPort) = try await startServe(dataDirectory: data + "/tls", ["--tls-cert", files.certificate, "--tls-key", files.key])
        defer { if tls.isRunning { tls.terminate() } }
        let (plain, plainPort) = try await startServe(dataDirectory: data + "/plain")
        defer { if plain.isRunning { plain.terminate() } }

        let untrusted = try await run(["connect", "wss://localhost:\(tlsPort)/api/echo"], input: "")
        #expect(untrusted.status == 2, "\(untrusted.err)")
        #expect(
            untrusted.err == "Could not connect to wss://localhost:\(tlsPort)/api/echo: the certificate of localhost:\(tlsPort) is not "
                + "trusted here (self-signed, or from an authority this machine does not trust): pass --ca with the certificate it "
                + "serves (for switchboard serve, its --tls-cert file)\n", "\(untrusted.err)")
        let trusted = try await run(["connect", "wss://localhost:\(tlsPort)/api/echo", "--ca", files.certificate, "--until", "hi"], input: "hi\n")
        #expect(trusted.status == 0, "\(trusted.err)")
        #expect(trusted.out == "hi\n")
        // A refusal behind --ca is told as over ws:// (the plain GET that asks why trusted the system's
        // certificates only, and the refusal was "WebSocket upgrade failed").
        let refused = try await run(
            ["connect", "wss://localhost:\(tlsPort)/api/echo", "--ca", files.certificate, "--token", "not-a-key-of-this-server"], input: "")
        #expect(refused.status == 2, "\(refused.err)")
        #expect(refused.err.contains(": HTTP 401: The key is not valid"), "\(refused.err)")

        let plainToTLS = try await run(["connect", "ws://localhost:\(tlsPort)/api/echo", "--connect-timeout", "1"], input: "")
        #expect(plainToTLS.status == 2, "\(plainToTLS.err)")
        #expect(
            plainToTLS.err == "Could not connect to ws://localhost:\(tlsPort)/api/echo: no answer to the WebSocket upgrade within 1 s "
                + "(a server that takes TLS closes a ws:// request unanswered: is it wss://?); --connect-timeout sets the limit\n",
            "\(plainToTLS.err)")

        let tlsToPlain = try await run(["connect", "wss://localhost:\(plainPort)/api/echo", "--ca", files.certificate], input: "")
        #expect(tlsToPlain.status == 2, "\(tlsToPlain.err)")
        #expect(tlsToPlain.err.contains(": localhost:\(plainPort) ended the connection in the TLS handshake: is it a plain ws:// server?"), "\(tlsToPlain.err)")
    }

    /// A key file `serve` cannot use stops it before anything starts, saying why (a missing file said only
    /// "Cannot read").
    @Test func serveSaysWhyItCannotUseAKeyFile() async throws {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let bad = data + "/bad.json"
        _ = FileManager.default.createFile(
            atPath: bad, contents: Data(#"{"Keys": [{"Name": "x", "Hash": "zz", "Allow": []}]}"#.utf8), attributes: [.posixPermissions: 0o600])
        for (file, message) in [
            (data + "/none.json", "Cannot read the key file '\(data)/none.json': there is no such file (`switchboard keys add <name> --allow <grant> --file"),
            (bad, "The key file '\(bad)': The hash of key 'x' is not 64 hex digits (SHA-256)"),
        ] {
            let result = try await run(["serve", "--port", "0", "--data-dir", data, "--keys", file], input: "")
            #expect(result.status == 64, "\(result.err)")
            #expect(result.err.contains(message), "\(result.err)")
        }
    }

    /// A close reason is shown on standard error with its control characters visible (a server's reason could
    /// drive the user's terminal); in a pipe, messages pass as they came, for the programs that read them.
    @Test func connectShowsACloseReasonsControlCharacters() async throws {
        let script = """
            import asyncio, sys, websockets
            async def handler(ws):
                await ws.send("hello \\x1b[2Jworld")
                await ws.close(4000, "bye \\x1b]0;pwned\\x07")
            async def main():
                async with websockets.serve(handler, "127.0.0.1", 0) as server:
                    print(server.sockets[0].getsockname()[1], flush=True)
                    await asyncio.sleep(60)
            asyncio.run(main())
            """
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["python3", "-c", script]
        let output = Pipe()
        server.standardOutput = output
        try server.run()
        defer { server.terminate() }
        let port = try await onOwnThread { () -> String in
            var text = ""
            while !text.contains("\n") {
                let data = output.fileHandleForReading.availableData
                if data.isEmpty { break }
                text += String(decoding: data, as: UTF8.self)
            }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        // The server closes first: the client, its input at an end, would close after 5 quiet seconds.
        let result = try await run(["connect", "ws://127.0.0.1:\(port)/api/x", "--drain", "5"], input: "")
        #expect(result.status == 1, "\(result.err)")
        #expect(result.out == "hello \u{1B}[2Jworld\n")
        #expect(result.err == "Connection closed (4000): bye ^[]0;pwned^G\n", "\(result.err)")
    }

    /// `connect --drain` out of its range is refused before it connects (`inf` crashed the client, exit 132).
    @Test(arguments: ["inf", "1e300", "-1", "nan"])
    func connectRefusesADrainOutOfRange(drain: String) async throws {
        let result = try await run(["connect", "ws://127.0.0.1:9/api/echo", "--drain=\(drain)"], input: "")
        #expect(result.status == 64, "\(result.err)")
        #expect(result.err.contains("--drain must be 0 to 3600 seconds"), "\(result.err)")
        let timeout = try await run(["connect", "ws://127.0.0.1:9/api/echo", "--connect-timeout=\(drain)"], input: "")
        #expect(timeout.status == 64, "\(timeout.err)")
        #expect(timeout.err.contains("--connect-timeout must be above 0 and at most 3600 seconds"), "\(timeout.err)")
    }

    /// `serve` with a short shutdown deadline (15 s, 6 s over TLS), over TLS with a certificate of its own or not.
    ///
    /// The watchdog's limit leaves room for a busy machine beyond the 2 s after which the server drops such
    /// connections (a full `swift test` once took the plain case past a limit of 5 s); over TLS it stays below
    /// the 2 s and the 5 s that TLS's own close would wait for the client's close notice, so that a close
    /// above the encryption still fails the test.
    func startServeWithShortShutdown(dataDirectory: String, overTLS: Bool) async throws -> (Process, Int) {
        var arguments = ["--shutdown-timeout", overTLS ? "6" : "15"]
        if overTLS {
            let files = try makeSelfSignedCertificate(in: dataDirectory + "/tls", name: "server")
            arguments += ["--tls-cert", files.certificate, "--tls-key", files.key]
        }
        return try await startServe(dataDirectory: dataDirectory, arguments)
    }

    /// Sends SIGTERM and expects the graceful end (status 0), not the watchdog's (status 1).
    func expectAGracefulExitOnSIGTERM(_ process: Process) async throws {
        process.terminate()
        try await onOwnThread { process.waitUntilExit() }
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0, "\(Self.laterLog(of: process))")
    }

    @Test(.enabled(if: browserAvailable, "needs chromium, chromium-driver, esbuild, node-xterm and selenium (.ci/run installs them)"))
    func theBrowserConsoleRunsAShellInHeadlessChromium() async throws {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let xterm = data + "/xterm"
        let root = FileManager.default.currentDirectoryPath
        let bundle = try await run(command: ["bash", root + "/Scripts/bundle_local_xterm.sh", xterm])
        #expect(bundle.status == 0, "\(bundle.output)")
        // Every session recorded: the console's session is then played back in the console.
        let (process, port) = try await startServe(dataDirectory: data, ["--xterm-dir", xterm, "--record"])
        defer { if process.isRunning { process.terminate() } }
        let token = try Self.token(data)
        // The address `serve` prints: the key in the fragment, which no request line carries.
        let browser = try await run(command: [
            "python3", root + "/Tests/Support/browser_console.py", "http://127.0.0.1:\(port)/console#token=\(token)",
        ])
        #expect(browser.status == 0, "\(browser.output)")
        #expect(browser.output.contains("\n42\n"))
        #expect(browser.output.contains("status: The program 'bash' exited with status 5"))
        // The key is kept in the tab (sessionStorage, scoped to this origin), never in a cookie that the browser
        // would send to every port of this host; it leaves the address at once.
        #expect(browser.output.contains("address: http://127.0.0.1:\(port)/console\n"), "\(browser.output)")
        #expect(browser.output.contains("socket: ws://127.0.0.1:\(port)/api/pty/mode=terminado protocol=switchboard\n"), "\(browser.output)")
        // (Reloaded, it is connected again; its status line says that the new session is recorded.)
        #expect(browser.output.contains("cookies: 0\nkey in the tab: True\nreloaded: This session is recorded"), "\(browser.output)")

        // Without a token, the page asks for one: pasted, it connects.
        let pasted = try await run(command: [
            "python3", root + "/Tests/Support/browser_console.py", "http://127.0.0.1:\(port)/console", "--paste", token,
        ])
        #expect(pasted.status == 0, "\(pasted.output)")
        #expect(pasted.output.contains("asked: This console needs the server's access token: paste it here"), "\(pasted.output)")
        #expect(pasted.output.contains("\n42\n"))

        let row = try #require(try await Self.recordings(port: port, token: token).first)
        guard case .string(let id)? = row["Id"] else { throw TestFailure("no Id in \(row)") }
        let cast = try await RawHTTP.request(
            port: port, "GET", "/api/recording/id=\(id)", headers: ["Authorization: Bearer \(token)", "Accept: application/x-asciicast"])
        // The console fitted the terminal to its window: the last resize of the recording is the size to play at.
        let resizes = cast.body.split(separator: "\n").filter { $0.contains(#", "r", ""#) }
        let size = try #require(resizes.last?.split(separator: "\"").dropLast().last)
        let replay = try await run(command: [
            "python3", root + "/Tests/Support/browser_console.py", "--replay", "http://127.0.0.1:\(port)/console?token=\(token)&replay=\(id)",
        ])
        #expect(replay.status == 0, "\(replay.output)")
        #expect(replay.output.contains("\n42\n"))
        #expect(replay.output.contains("size=\(size)"))
        #expect(replay.output.contains("status: Replay of \(id) ended"))
        process.terminate()
        try await onOwnThread { process.waitUntilExit() }
    }

    /// The console loads xterm.js from jsDelivr by default, and the browser checks each file against the
    /// SHA-384 of the pinned version: here Chromium's cdn.jsdelivr.net is a local HTTPS server that serves a
    /// script of its own at xterm.js's path (CORS allowed, as jsDelivr does). The page runs neither file, the
    /// browser says both failed their integrity check, and the status line says what to do. (Until 2026-12-07
    /// the page had no `integrity`: the CDN's script ran in the page, which can open the user's shell.)
    @Test(.enabled(if: browserAvailable, "needs chromium, chromium-driver and selenium (.ci/run installs them)"))
    func theBrowserConsoleRunsNoScriptTheCDNServesInThePinnedOnesPlace() async throws {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let (process, port) = try await startServe(dataDirectory: data)
        defer { if process.isRunning { process.terminate() } }
        let cdn = try makeSelfSignedCertificate(in: data + "/cdn", name: "cdn")
        let root = FileManager.default.currentDirectoryPath
        let browser = try await run(command: [
            "python3", root + "/Tests/Support/browser_cdn_tamper.py", "http://127.0.0.1:\(port)/console?token=\(try Self.token(data))",
            cdn.certificate, cdn.key,
        ])
        #expect(browser.status == 0, "\(browser.output)")
        #expect(browser.output.contains("integrity messages: 2"), "\(browser.output)")
        #expect(browser.output.contains("status: Could not load xterm.js from cdn.jsdelivr.net"), "\(browser.output)")
    }

    /// Runs a command to the end; returns its exit status and its output and errors together.
    func run(command: [String]) async throws -> (status: Int32, output: String) {
        try await runToEnd(command)
    }
}
