import Foundation
import Switchboard
import Testing

@testable import SwitchboardTestSupport

/// The `TodoApp` sample as its users run it: a process of its own, with its own routes and context, run with
/// Hummingbird's `runService()`, reached with a real WebSocket client.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct TodoAppTests {
    /// A running `TodoApp` process and what it writes to its standard error.
    final class App: Sendable {
        let process: Process
        let port: Int
        let errors: @Sendable () -> Data

        init() async throws {
            let binary = try SwitchboardBinary.url.deletingLastPathComponent().appendingPathComponent("TodoApp")
            let process = Process()
            process.executableURL = binary
            process.arguments = ["0"]
            let output = Pipe()
            let errorOutput = Pipe()
            process.standardOutput = output
            process.standardError = errorOutput
            try process.run()
            self.process = process
            self.errors = Thread.detachNewThreadReading(errorOutput.fileHandleForReading)
            let reader = output.fileHandleForReading
            let line = try await firstLine(of: reader)
            guard let port = Int(line.split(separator: " ").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") else {
                process.terminate()
                throw TestFailure("no port in '\(line)'")
            }
            self.port = port
        }

        /// Sends SIGTERM and waits for the process to end; returns its standard error.
        func terminate() async throws -> String {
            kill(process.processIdentifier, SIGTERM)
            let process = self.process
            try await onOwnThread { process.waitUntilExit() }
            let errors = self.errors
            return String(decoding: try await onOwnThread { errors() }, as: UTF8.self)
        }
    }

    @Test func itsOwnRoutesAndTheTerminalsWorkSideBySide() async throws {
        let app = try await App()
        let home = try await RawHTTP.get(port: app.port, path: "/")
        #expect(home.status == 200 && home.body == "The Todo app. Its API is at /api.\n")
        let health = try await RawHTTP.get(port: app.port, path: "/health")
        #expect(health.status == 200 && health.body == "ok\n")

        // An owner with `&`, `/` and spaces, from the URI through the typed redirect to the Shell's query.
        let client = try await WebSocketTestClient.connect("ws://127.0.0.1:\(app.port)/api/todo/owner=a%26b%2Fc%20d")
        #expect(try await client.receiveText() == "a&b/c d's list. Commands: add <text>, done <n>, list, save, chores, shell")
        client.send("add Dishes")
        #expect(try await client.receiveText() == "Added #1")
        client.send("save")
        #expect(try await client.receiveText().hasPrefix("201: Created"))
        client.send("#TERMINAL {\"Capacity\": 0}")
        #expect(try await client.receiveText() == "400: Bad request. Capacity must be from 1 to 100")
        client.send("chores")
        #expect(try await client.receiveText() == "? /TodoApp.Chore/Owner=a%26b%2Fc%20d")
        client.send("GET")
        #expect(try await client.receiveText().hasPrefix("200: OK"))
        #expect(try await client.receiveText().contains(#""Owner": "a&b/c d""#))
        _ = try await client.close()
        _ = try await app.terminate()
    }

    /// SIGTERM to an application run with `runService()` closes its WebSockets with 1001 and its terminals
    /// with `.shutdown` (Hummingbird alone would close with 1000, and the terminal would see `.disconnected`).
    @Test func sigtermClosesWith1001AndShutdown() async throws {
        let app = try await App()
        let client = try await WebSocketTestClient.connect("ws://127.0.0.1:\(app.port)/api/todo")
        #expect(try await client.receiveText().hasSuffix("Commands: add <text>, done <n>, list, save, chores, shell"))
        let log = try await app.terminate()
        let close = try await client.closeFrame()
        #expect(close == .init(code: 1001, reason: "Server shutting down"))
        #expect(log.contains("todo.reason=shutdown"), "\(log)")
    }
}
