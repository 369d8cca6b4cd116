import Foundation
import Switchboard
import Synchronization
import Testing

@testable import SwitchboardPTY
@testable import SwitchboardTestSupport

/// Whether Debian's `asciinema` is here (CI installs it): the reader of recordings nobody here wrote.
let asciinemaAvailable = FileManager.default.isExecutableFile(atPath: "/usr/bin/asciinema")

/// Recording PTY sessions and playing them back, with real bash in real PTYs through a real server; the files
/// are read by Debian's `asciinema` and Python's `json`.
extension PTYTests {
    static func recordingDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-recordings-\(UUID().uuidString)").path
    }

    /// A server whose PTY sessions may be recorded in a fresh directory.
    static func withRecordings(
        _ configure: (inout RecordingConfiguration) -> Void = { _ in }, authenticator: any Authenticator = AllowAllAuthenticator(),
        _ body: (TestServer, SessionRecordings) async throws -> Void
    ) async throws {
        var configuration = RecordingConfiguration(directory: recordingDirectory())
        configure(&configuration)
        defer { try? FileManager.default.removeItem(atPath: configuration.directory) }
        let recordings = try await SessionRecordings(configuration: configuration)
        try await withServer(authenticator: authenticator, recordings: recordings) { server, _ in
            try await body(server, recordings)
        }
        await recordings.close()
    }

    /// `GET` over HTTP; the JSON body's `Data`.
    static func list(_ server: TestServer, _ path: String = "/api/recording", key: String? = nil) async throws -> [JSONObject] {
        let headers = key.map { ["Authorization: Bearer \($0)"] } ?? []
        let response = try await RawHTTP.request(port: server.port, "GET", path, headers: headers)
        guard case .object(let body) = try JSON(parsing: response.body), case .array(let rows)? = body["Data"] else {
            throw TestFailure("no Data in \(response.body)")
        }
        return rows.compactMap { if case .object(let row) = $0 { row } else { nil } }
    }

    /// One recording's file, as `Accept: application/x-asciicast` downloads it.
    static func download(_ server: TestServer, _ id: String, key: String? = nil) async throws -> (status: Int, head: String, body: String) {
        var headers = ["Accept: application/x-asciicast"]
        if let key { headers.append("Authorization: Bearer \(key)") }
        return try await RawHTTP.request(port: server.port, "GET", "/api/recording/id=\(id)", headers: headers)
    }

    /// The events of an asciicast file after its header, as Python's `json` reads them: one JSON array per line.
    static func events(_ cast: String) async throws -> [JSON] {
        let lines = try await python(
            "import json,sys\nlines=sys.stdin.read().split('\\n')\nassert lines[-1]==''\njson.loads(lines[0])\nfor l in lines[1:-1]: print(json.dumps(json.loads(l)))",
            input: cast)
        return try lines.split(separator: "\n").map { try JSON(parsing: String($0)) }
    }

    /// The output (`"o"`) of events, joined.
    static func output(of events: [JSON]) -> String {
        events.compactMap { event -> String? in
            guard case .array(let items) = event, items.count == 3, items[1] == "o", case .string(let text) = items[2] else { return nil }
            return text
        }.joined()
    }

    static func id(_ row: JSONObject) -> String { if case .string(let id)? = row["Id"] { id } else { "" } }

    /// Runs a recorded session to its end: each command after the prompt, then `exit`; returns the id of the
    /// newest recording.
    static func recordSession(_ server: TestServer, _ commands: [String]) async throws -> String {
        let client = try await WebSocketTestClient.connect(server.base + "/api/pty/record=true&input=keys")
        _ = try await read(client, until: "$ ")
        for command in commands {
            client.send(command + "\r")
            _ = try await read(client, until: "$ ")
        }
        client.send("exit\r")
        _ = try await read(client, until: "? <no query>")
        try await client.close()
        return id(try #require(try await list(server).last))
    }

    @Test(.enabled(if: asciinemaAvailable, "needs Debian's asciinema (.ci/run installs it)"))
    func aRecordedSessionIsAnAsciicastThatAsciinemaPrintsAndReplaysInOrder() async throws {
        try await Self.withRecordings { server, recordings in
            let client = try await WebSocketTestClient.connect(server.base + "/api/pty/record=true&input=keys")
            let notice = try await Self.read(client, until: ")]\r\n")
            guard let range = notice.range(of: #"recorded \((\d{8}-\d{6}-[0-9a-f]{6})\)"#, options: .regularExpression) else {
                throw TestFailure("no recording notice in \(notice.debugDescription)")
            }
            let id = String(notice[range].dropFirst("recorded (".count).dropLast())
            // Quotes, backslashes, tabs, non-ASCII and control characters all survive the JSON of the file.
            client.send(#"printf 'caf\303\251 "q" \\ \t \033[1mbold\033[0m\n'; echo D$((40+2))ONE"# + "\r")
            var seen = try await Self.read(client, until: "D42ONE")
            client.send(#"#TERMINAL {"Rows": 30, "Cols": 100}"#)
            // The answer to #TERMINAL (a status line, then the properties) is not the program's: left out.
            var answered = false
            while case .text(let part)? = await client.receive() {
                if part.contains("Terminal updated") {
                    answered = true
                } else if answered && part.hasPrefix("{") {
                    break
                } else {
                    seen += part
                }
            }
            client.send("stty size; exit 3\r")
            seen += try await Self.read(client, until: "? <no query>")
            let ended = try #require(seen.range(of: "200: OK. The program 'bash' exited with status 3"))
            // What the client saw of the program: everything after the notice, up to the status line.
            let shown = String(seen[..<ended.lowerBound])

            let rows = try await Self.list(server)
            #expect(rows.count == 1)
            let row = try #require(rows.first)
            #expect(row["Id"] == .string(id))
            #expect(row["Recording"] == false)
            #expect(row["Width"] == 80 && row["Height"] == 24)
            #expect(row["EndedAt"] != nil)
            #expect(row["Audit"] == false)
            // The query language works on them, like on any resource.
            #expect(try await Self.list(server, "/api/recording/width=80&duration>=0").count == 1)
            #expect(try await Self.list(server, "/api/recording/width=81").isEmpty)

            let download = try await Self.download(server, id)
            #expect(download.status == 200)
            #expect(RawHTTP.header("Content-Type", in: download.head) == "application/x-asciicast")
            #expect(RawHTTP.header("Content-Disposition", in: download.head) == "attachment; filename=\"\(id).cast\"")
            let header = try JSON(parsing: String(download.body.prefix { $0 != "\n" }))
            guard case .object(let fields) = header else { throw TestFailure("no header") }
            #expect(fields["version"] == 2 && fields["width"] == 80 && fields["height"] == 24)
            guard case .object(let environment)? = fields["env"] else { throw TestFailure("no env in \(header)") }
            #expect(environment["TERM"] == "xterm-256color")
            let events = try await Self.events(download.body)
            #expect(events.contains(where: { $0.resize == "100x30" }))
            #expect(events.contains(where: { $0.marker?.hasPrefix("The program exited with status 3") == true }))
            let recorded = Self.output(of: events)
            #expect(recorded.contains("café \"q\" \\ \t \u{1B}[1mbold\u{1B}[0m\r\n"))
            #expect(recorded.contains("30 100"))
            // asciinema prints exactly what the client was sent.
            let file = recordings.configuration.directory + "/" + id + ".cast"
            let printed = try await runToEnd(["python3", "Tests/Support/asciinema_cat.py", file])
            #expect(printed.status == 0, "\(printed.output)")
            #expect(printed.output == recorded)
            #expect(recorded == shown, "\(recorded.debugDescription)\n\(shown.debugDescription)")

            // Played back at high speed as the terminal got it: the same bytes in order, then the Shell.
            let replay = try await WebSocketTestClient.connect(server.base + "/api/replay/id=\(id)&speed=10000&output=terminal")
            let played = try await Self.read(replay, until: "? <no query>")
            let end = try #require(played.range(of: "200: OK. Replay of \(id) ended"))
            #expect(String(played[..<end.lowerBound]) == recorded)
            #expect(played.contains(shellBanner))
            try await replay.close()
            // To a line client, by default, as lines: no escape sequence, line break or tab in any message.
            let lines = try await WebSocketTestClient.connect(server.base + "/api/replay/id=\(id)&speed=10000")
            var shownLines: [String] = []
            while shownLines.last != "? <no query>" { shownLines.append(try await lines.receiveText()) }
            let output = shownLines.prefix { !$0.hasPrefix("200: OK. Replay of") }
            #expect(output.contains("café \"q\" \\       bold"), "\(output)")
            #expect(output.contains("30 100"))
            #expect(!output.contains { $0.contains("\u{1B}") || $0.contains("\r") || $0.contains("\n") || $0.contains("\t") }, "\(output)")
            try await lines.close()

            // In terminado mode: setup, the recorded size and its changes, the output, then disconnect and the close.
            let terminado = try await WebSocketTestClient.connect(server.base + "/api/replay/id=\(id)&speed=10000&mode=terminado")
            var messages: [JSON] = []
            while case .text(let text)? = await terminado.receive() {
                let message = try JSON(parsing: text)
                messages.append(message)
                if message == ["disconnect", 1] { break }
            }
            #expect(messages.first == ["setup", .object([:])])
            #expect(messages.dropFirst().first == ["resize", 24, 80])
            #expect(messages.contains(["resize", 30, 100]))
            let stdout = messages.compactMap { message -> String? in
                guard case .array(let items) = message, items.first == "stdout", case .string(let text)? = items.last else { return nil }
                return text
            }.joined()
            #expect(stdout == recorded)
            #expect(try await terminado.closeFrame()?.code == 1000)
        }
    }

    @Test func replayIsPausedMovedAndSpedUpWhilePlaying() async throws {
        try await Self.withRecordings { server, _ in
            let id = try await Self.recordSession(server, ["echo F$((1+1))IRST; sleep 0.3; echo S$((1+1))ECOND"])

            // Opened paused at the end: everything at once, then nothing until it plays on.
            let replay = try await WebSocketTestClient.connect(server.base + "/api/replay/id=\(id)&paused=true&position=1000&output=terminal")
            _ = try await Self.read(replay, until: "S2ECOND")
            replay.send("#TERMINAL")
            let properties = try await Self.read(replay, until: "\"Height\"")
            #expect(properties.contains("\"Paused\": true"))
            #expect(properties.contains("\"Width\": 80"))
            replay.send(#"#TERMINAL {"Output": "lines"}"#)
            _ = try await Self.read(replay, until: "400: Bad request. Id, Mode and Output are chosen when the replay opens; open /replay/id=... again")
            // Back to the start: the screen is reset and the output comes again, up to the position.
            replay.send(#"#TERMINAL {"Position": 0, "Speed": 10000}"#)
            let again = try await Self.read(replay, until: "Terminal updated")
            if !again.contains("\u{1B}c") { _ = try await Self.read(replay, until: "\u{1B}c") }
            replay.send(#"#TERMINAL {"Paused": false}"#)
            let rest = try await Self.read(replay, until: "? <no query>")
            #expect(rest.contains("S2ECOND"))
            #expect(rest.contains("200: OK. Replay of \(id) ended"))
            replay.send("/replay/id=\(id)&speed=0")
            replay.send("GET")
            _ = try await Self.read(replay, until: "Invalid speed 0.0: it must be between 0.01 and 10000")
            // Keys control it too: q stops at once, however slow the replay.
            replay.send("/replay/id=\(id)&speed=0.01")
            _ = try await Self.read(replay, until: "? /Switchboard.Replay")
            replay.send("GET")
            replay.send("q")
            _ = try await Self.read(replay, until: "200: OK. Replay of \(id) ended")
            try await replay.close()
        }
    }

    @Test func theSizeLimitStopsTheRecordingWithAMarkerAndTheSessionGoesOn() async throws {
        try await Self.withRecordings({ $0.maxBytesPerRecording = 8 << 10 }) { server, recordings in
            let client = try await WebSocketTestClient.connect(server.base + "/api/pty/record=true&input=keys")
            _ = try await Self.read(client, until: "$ ")
            client.send("seq 1 5000; echo D$((2+2))ONE\r")
            let text = try await Self.read(client, until: "D4ONE")
            #expect(text.contains("stopped: the recording reached its limit of 8 KiB; the session goes on]"))
            client.send("echo A$((3+3))FTER\r")
            _ = try await Self.read(client, until: "A6FTER")
            let row = try #require(try await Self.list(server).first)
            #expect(row["Stopped"] == "the recording reached its limit of 8 KiB")
            let id = Self.id(row)
            let file = recordings.configuration.directory + "/" + id + ".cast"
            let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
            #expect(size <= 8 << 10)
            let events = try await Self.events(try String(contentsOfFile: file, encoding: .utf8))
            #expect(events.last?.marker == "Recording stopped: the recording reached its limit of 8 KiB")
            #expect(!Self.output(of: events).contains("A6FTER"))
            client.send("exit\r")
            _ = try await Self.read(client, until: "? <no query>")
        }
    }

    @Test func aYesFloodKeepsTheRecordersMemoryAndFileWithinTheirLimits() async throws {
        try await Self.withRecordings({ $0.maxBytesPerRecording = 8 << 20 }) { server, recordings in
            let client = try await WebSocketTestClient.connect(server.base + "/api/pty/record=true&input=keys")
            _ = try await Self.read(client, until: "$ ")
            // 3 MB of "y\r\n" is about 5 MB of asciicast (each \r and \n written as two characters).
            client.send("yes | head -c 3000000; echo D$((5+5))ONE\r")
            _ = try await Self.read(client, until: "D10ONE")
            let id = Self.id(try #require(try await Self.list(server).first))
            let recorder = try #require(await recordings.recorder(id))
            // The only memory a recording holds is its queue for the disk: bounded, however fast the output.
            #expect(recorder.peakQueuedBytes <= SessionRecorder.maxQueuedBytes)
            #expect(recorder.stop == nil)
            // 6 MB more cross the 8 MiB limit: the recording stops there, the session goes on.
            client.send("yes | head -c 6000000; echo E$((5+5))ND\r")
            _ = try await Self.read(client, until: "E10ND")
            #expect(recorder.peakQueuedBytes <= SessionRecorder.maxQueuedBytes)
            #expect(recorder.stop == .sizeLimit(8 << 20))
            client.send("exit\r")
            _ = try await Self.read(client, until: "? <no query>")
            let file = recordings.configuration.directory + "/" + id + ".cast"
            let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
            #expect(size <= 8 << 20 && size > 7 << 20)
        }
    }

    @Test func retentionDeletesTheOldestAndTheExpiredAndAHalfWrittenLineIsCutAtStart() async throws {
        let directory = Self.recordingDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Left by earlier runs: one from 2020 (past the age limit), one a killed process left with half a line.
        let old = #"{"version":2,"width":80,"height":24,"timestamp":1577836800,"switchboard":{"owner":"anonymous"}}"# + "\n[0.5, \"o\", \"old\"]\n"
        try old.write(toFile: directory + "/20200101-000000-aaaaaa.cast", atomically: true, encoding: .utf8)
        let now = Int(Date().timeIntervalSince1970)
        let cut =
            #"{"version":2,"width":80,"height":24,"timestamp":\#(now),"switchboard":{"owner":"anonymous"}}"# + "\n[0.5, \"o\", \"whole\"]\n[0.9, \"o\", \"ha"
        try cut.write(toFile: directory + "/20261201-000000-bbbbbb.cast", atomically: true, encoding: .utf8)
        let cutSize = cut.utf8.count - #"[0.9, "o", "ha"#.utf8.count
        try await Self.withRecordings({
            $0.directory = directory; $0.maxTotalBytes = 1200; $0.maxAge = .seconds(86_400)
        }) { server, _ in
            let start = try await Self.list(server)
            #expect(start.map(Self.id) == ["20261201-000000-bbbbbb"])
            #expect(start.first?["Size"] == .int(cutSize))
            #expect(start.first?["Duration"] == 0.5)
            #expect(!FileManager.default.fileExists(atPath: directory + "/20200101-000000-aaaaaa.cast"))
            var made: [String] = ["20261201-000000-bbbbbb"]
            var sizes = ["20261201-000000-bbbbbb": cutSize]
            for round in 1...3 {
                let id = try await Self.recordSession(server, ["echo R$((0+\(round)))OUND"])
                made.append(id)
                let row = try #require(try await Self.list(server).first { Self.id($0) == id })
                guard case .int(let size)? = row["Size"] else { throw TestFailure("no size for \(id)") }
                sizes[id] = size
            }
            // Each is about 500 bytes (more when the machine is busy: the echo of the typed command then comes in
            // more pieces, each a line of its own). Retention deletes the oldest until the rest fit in 1,200
            // bytes: what is left is the longest run of the newest that fits.
            var expected: [String] = []
            var fitting = 0
            for id in made.reversed() {
                guard let size = sizes[id], fitting + size <= 1200 else { break }
                fitting += size
                expected.insert(id, at: 0)
            }
            let rows = try await Self.list(server)
            let kept = rows.map(Self.id)
            #expect(rows.reduce(0) { total, row in if case .int(let size)? = row["Size"] { total + size } else { total } } <= 1200)
            #expect(!kept.isEmpty && kept.count < made.count, "sizes \(sizes)")
            #expect(kept == expected, "sizes \(sizes)")
            let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".cast") }
            #expect(Set(files) == Set(kept.map { $0 + ".cast" }))
        }
    }

    @Test func recordingsAreTheirOwnersAndAuditRecordingsOnlyAnAdministratorDeletes() async throws {
        try await Self.withRecordings({ $0.recordsEverySession = true }, authenticator: Self.ptyKeys) { server, _ in
            let alice = try await Self.open(server, "alice", "/api/pty/input=keys")
            _ = try await Self.read(alice, until: "$ ")
            alice.send("echo S$((0+1))ECRET; exit\r")
            _ = try await Self.read(alice, until: "? <no query>")
            try await alice.close()
            let aliceKey = "alice-pty-key-0123456789"
            let mine = try await Self.list(server, key: aliceKey)
            #expect(mine.count == 1)
            #expect(mine.first?["Audit"] == true)
            #expect(mine.first?["Owner"] == "alice")
            let id = Self.id(try #require(mine.first))
            // Bob sees nothing of Alice's, cannot download, replay or delete it.
            let bobKey = "bob-pty-key-0123456789"
            #expect(try await Self.list(server, key: bobKey).isEmpty)
            #expect(try await Self.download(server, id, key: bobKey).status == 404)
            let bobReplay = try await Self.open(server, "bob", "/api/replay/id=\(id)")
            _ = try await Self.read(bobReplay, until: "404: Not found. There is no recording '\(id)' that you may replay")
            try await bobReplay.close()
            let bobDelete = try await RawHTTP.request(port: server.port, "DELETE", "/api/recording/id=\(id)", headers: ["Authorization: Bearer \(bobKey)"])
            #expect(bobDelete.body.contains("\"DeletedCount\": 0"))
            // Carol has no right on Switchboard.Recording at all, so none to replay.
            let carol = [("Authorization", "Bearer carol-pty-key-0123456789")]
            #expect(try await WebSocketTestClient.refusalStatus(server.base + "/api/replay/id=\(id)", headers: carol) == 403)
            // Alice's own audit recording is kept from her; an administrator deletes it.
            let aliceDelete = try await RawHTTP.request(port: server.port, "DELETE", "/api/recording/id=\(id)", headers: ["Authorization: Bearer \(aliceKey)"])
            #expect(aliceDelete.status == 403)
            #expect(aliceDelete.body.contains("only an administrator may delete it"))
            #expect(try await Self.download(server, id, key: aliceKey).body.contains("S1ECRET"))
            let adminDelete = try await RawHTTP.request(
                port: server.port, "DELETE", "/api/recording/id=\(id)", headers: ["Authorization: Bearer admin-pty-key-0123456789"])
            #expect(adminDelete.body.contains("\"DeletedCount\": 1"))
            #expect(try await Self.list(server, key: aliceKey).isEmpty)
        }
    }
}

extension JSON {
    /// The data of an asciicast resize event (`[t, "r", "100x30"]`).
    fileprivate var resize: String? {
        guard case .array(let items) = self, items.count == 3, items[1] == "r", case .string(let size) = items[2] else { return nil }
        return size
    }

    /// The label of an asciicast marker event (`[t, "m", "label"]`).
    fileprivate var marker: String? {
        guard case .array(let items) = self, items.count == 3, items[1] == "m", case .string(let label) = items[2] else { return nil }
        return label
    }
}

/// The disk misbehaving under a recording: faults put in place of the recording's file.
extension PTYTests {
    /// The recorder of the only recording, once its session is open.
    static func onlyRecorder(_ server: TestServer, _ recordings: SessionRecordings) async throws -> SessionRecorder {
        let id = Self.id(try #require(try await Self.list(server).first))
        return try #require(await recordings.recorder(id))
    }

    @Test func aFullDiskStopsTheRecordingAndTheSessionGoesOn() async throws {
        try await Self.withRecordings { server, recordings in
            let client = try await WebSocketTestClient.connect(server.base + "/api/pty/record=true&input=keys")
            _ = try await Self.read(client, until: "$ ")
            let recorder = try await Self.onlyRecorder(server, recordings)
            // From now on every write of the recording fails as on a full disk.
            let full = Glibc.open("/dev/full", O_WRONLY)
            #expect(full >= 0)
            #expect(dup2(full, recorder.descriptorForTests) >= 0)
            close(full)
            client.send("echo F$((1+1))ULL\r")
            let told = try await Self.read(client, until: "the session goes on]")
            #expect(told.contains("stopped: writing the file failed (No space left on device); the session goes on"))
            client.send("echo S$((1+1))TILL\r")
            _ = try await Self.read(client, until: "S2TILL")
            #expect(recorder.stop == .writeFailed("No space left on device"))
            let row = try #require(try await Self.list(server).first)
            #expect(row["Stopped"] == "writing the file failed (No space left on device)")
            client.send("exit\r")
            _ = try await Self.read(client, until: "? <no query>")
        }
    }

    @Test func aStalledDiskNeverHoldsUpTheProgramAndSaysWhatItLeftOut() async throws {
        try await Self.withRecordings { server, recordings in
            let client = try await WebSocketTestClient.connect(server.base + "/api/pty/record=true&input=keys")
            _ = try await Self.read(client, until: "$ ")
            let recorder = try await Self.onlyRecorder(server, recordings)
            // The recording's file becomes a pipe nobody reads yet: the writer thread blocks on it.
            var ends: [Int32] = [0, 0]
            #expect(pipe(&ends) == 0)
            #expect(dup2(ends[1], recorder.descriptorForTests) >= 0)
            close(ends[1])
            defer { close(ends[0]) }
            // 4 MB of output reach the client in full while the disk takes nothing.
            client.send("yes | head -c 4000000 | wc -c; yes | head -c 4000000; echo D$((1+2))ONE\r")
            let output = try await Self.read(client, until: "D3ONE")
            #expect(output.contains("4000000"))
            #expect(output.utf8.count > 4_000_000)
            #expect(recorder.peakQueuedBytes <= SessionRecorder.maxQueuedBytes)
            // The disk catches up; the next output is recorded after a marker saying what was left out.
            let reader = ends[0]
            let recorded = Atomic<Bool>(false)
            // Read on a thread of its own: a blocking read must not take one of the cooperative pool's threads.
            async let drained = onOwnThread { () -> String in
                var seen = [UInt8]()
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let count = Glibc.read(reader, &buffer, buffer.count)
                    if count <= 0 { return "" }
                    seen += buffer[..<count]
                    let text = String(decoding: seen.suffix(200_000), as: UTF8.self)
                    if text.contains("A4FTER") {
                        recorded.store(true, ordering: .releasing)
                        return text
                    }
                    if seen.count > 400_000 { seen.removeFirst(seen.count - 200_000) }
                }
            }
            // Output that comes while the queue is still full is left out too: echo until one is recorded (each
            // echo's round trip gives the disk time to catch up).
            for _ in 0..<500 where !recorded.load(ordering: .acquiring) {
                client.send("echo A$((2+2))FTER\r")
                _ = try await Self.read(client, until: "A4FTER")
            }
            if !recorded.load(ordering: .acquiring) {
                Issue.record("the recording never caught up")
                _ = "A4FTER".withCString { write(recorder.descriptorForTests, $0, 6) }
            }
            let tail = try await drained
            #expect(tail.range(of: #"\d+ bytes of output not recorded: the disk was too slow"#, options: .regularExpression) != nil)
            #expect(recorder.stop == nil)
            client.send("exit\r")
            _ = try await Self.read(client, until: "? <no query>")
        }
    }
}

extension PTYTests {
    @Test func keystrokesAreRecordedOnlyWhenTheOperatorSaysSo() async throws {
        for recordsInput in [false, true] {
            try await Self.withRecordings({ $0.recordsInput = recordsInput }) { server, recordings in
                // Typed with the terminal's echo off, as at a password prompt: never in the output.
                let id = try await Self.recordSession(server, ["stty -echo", "true hunter2"])
                let cast = try String(contentsOfFile: recordings.configuration.directory + "/" + id + ".cast", encoding: .utf8)
                let events = try await Self.events(cast)
                let input = events.compactMap { event -> String? in
                    guard case .array(let items) = event, items.count == 3, items[1] == "i", case .string(let keys) = items[2] else { return nil }
                    return keys
                }.joined()
                #expect(!Self.output(of: events).contains("hunter2"))
                #expect(input.contains("hunter2") == recordsInput)
            }
        }
    }
}
