import Foundation
import Switchboard
import Testing

@testable import SwitchboardTestSupport

/// `switchboard serve --record` as an operator runs it: killed outright, restarted, and played back in a browser.
extension CommandLineTests {
    static let asciinemaAvailable = FileManager.default.isExecutableFile(atPath: "/usr/bin/asciinema")

    /// The recordings `serve` lists, over HTTP with its token.
    static func recordings(port: Int, token: String) async throws -> [JSONObject] {
        let response = try await RawHTTP.request(port: port, "GET", "/api/recording", headers: ["Authorization: Bearer \(token)"])
        guard case .object(let body) = try JSON(parsing: response.body), case .array(let rows)? = body["Data"] else {
            throw TestFailure("no Data in \(response.body)")
        }
        return rows.compactMap { if case .object(let row) = $0 { row } else { nil } }
    }

    @Test(.enabled(if: asciinemaAvailable, "needs Debian's asciinema (.ci/run installs it)"))
    func aServerKilledMidSessionLeavesARecordingThatParsesAndIsListedAfterRestart() async throws {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let (process, port) = try await startServe(dataDirectory: data, ["--record"])
        defer { if process.isRunning { process.terminate() } }
        let token = try Self.token(data)
        let client = try await WebSocketTestClient.connect(
            "ws://127.0.0.1:\(port)/api/pty/input=keys", headers: [("Authorization", "Bearer \(token)")])
        _ = try await client.read(until: "This session is recorded")
        client.send("echo K$((4+4))ILL\r")
        _ = try await client.read(until: "K8ILL")
        let row = try #require(try await Self.recordings(port: port, token: token).first)
        #expect(row["Recording"] == true)
        #expect(row["Audit"] == true)
        guard case .string(let id)? = row["Id"] else { throw TestFailure("no Id in \(row)") }
        let file = data + "/recordings/" + id + ".cast"
        // The writer thread appends each batch of events as soon as it is queued: wait until the output is there.
        let deadline = ContinuousClock.now + .seconds(20)
        while !((try? String(contentsOfFile: file, encoding: .utf8))?.contains("K8ILL") ?? false) {
            guard ContinuousClock.now < deadline else { throw TestFailure("the output never reached \(file)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        kill(process.processIdentifier, SIGKILL)
        try await onOwnThread { process.waitUntilExit() }

        let root = FileManager.default.currentDirectoryPath
        let printed = try await runToEnd(["python3", root + "/Tests/Support/asciinema_cat.py", file])
        #expect(printed.status == 0, "\(printed.output)")
        #expect(printed.output.contains("K8ILL"))
        // Killed in the middle of a write, a file would end with half a line, which asciinema refuses...
        let whole = try #require(FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
        let handle = try #require(FileHandle(forWritingAtPath: file))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"[9.5, "o", "half a li"#.utf8))
        try handle.close()
        #expect(try await runToEnd(["python3", root + "/Tests/Support/asciinema_cat.py", file]).status != 0)

        // ...so the restarted server cuts it back to its last whole line, and lists the recording as ended.
        let (again, newPort) = try await startServe(dataDirectory: data, ["--record"])
        defer { if again.isRunning { again.terminate() } }
        let listed = try #require(try await Self.recordings(port: newPort, token: try Self.token(data)).first { $0["Id"] == .string(id) })
        #expect(listed["Recording"] == false)
        #expect(listed["Size"] == .int(whole))
        #expect(listed["EndedAt"] != nil)
        let repaired = try await runToEnd(["python3", root + "/Tests/Support/asciinema_cat.py", file])
        #expect(repaired.status == 0, "\(repaired.output)")
        #expect(repaired.output == printed.output)
        again.terminate()
        try await onOwnThread { again.waitUntilExit() }
    }
}
