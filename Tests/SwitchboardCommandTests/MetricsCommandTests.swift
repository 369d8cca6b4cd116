import Foundation
import Switchboard
import Testing

@testable import SwitchboardTestSupport

/// `switchboard serve`'s Prometheus endpoint, read by the official Python client's parser.
extension CommandLineTests {
    /// Whether Python's `prometheus_client` is here (`.ci/run` installs it).
    static let prometheusClientAvailable = pythonCanImport("prometheus_client")

    /// The samples of one scrape: `name{label="value"}` → value.
    func scrape(port: Int, token: String) async throws -> [String: Double] {
        let root = FileManager.default.currentDirectoryPath
        let result = try await runToEnd(["python3", root + "/Tests/Support/scrape_metrics.py", "http://127.0.0.1:\(port)/metrics", token])
        #expect(result.status == 0, "\(result.output)")
        guard case .object(let object) = try JSON(parsing: result.output) else { throw TestFailure("no JSON in \(result.output)") }
        #expect(object["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        var samples: [String: Double] = [:]
        for (key, value) in object.members {
            switch value {
            case .double(let number): samples[key] = number
            case .int(let number): samples[key] = Double(number)
            default: continue
            }
        }
        return samples
    }

    @Test(.enabled(if: prometheusClientAvailable, "needs Python's prometheus_client (.ci/run installs it)"))
    func serveReportsConnectionsTerminalsMessagesRequestsAndKeystrokesToPrometheus() async throws {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let (process, port) = try await startServe(dataDirectory: data)
        defer { if process.isRunning { process.terminate() } }
        let token = try Self.token(data)
        // Like everything else, the figures need a key.
        let keyless = try await RawHTTP.request(port: port, "GET", "/metrics")
        #expect(keyless.status == 401)
        #expect(RawHTTP.header("Content-Type", in: keyless.head) == "text/plain; charset=utf-8")
        #expect(try await RawHTTP.request(port: port, "GET", "/metrics", headers: ["Authorization: Bearer not-the-token-0123456789"]).status == 401)

        let auth = [("Authorization", "Bearer \(token)")]
        let echo = try await WebSocketTestClient.connect("ws://127.0.0.1:\(port)/api/echo", headers: auth)
        echo.send("one")
        echo.send("two")
        #expect(try await echo.receiveText() == "one")
        #expect(try await echo.receiveText() == "two")
        let pty = try await WebSocketTestClient.connect("ws://127.0.0.1:\(port)/api/pty/input=keys", headers: auth)
        pty.send("echo M$((2+3))ETRICS\r")
        _ = try await pty.read(until: "M5ETRICS")
        #expect(try await RawHTTP.request(port: port, "GET", "/api/superhero//limit=1", headers: ["Authorization: Bearer \(token)"]).status == 200)
        #expect(try await RawHTTP.request(port: port, "GET", "/api/nosuch", headers: ["Authorization: Bearer \(token)"]).status == 404)

        let during = try await scrape(port: port, token: token)
        #expect(during["switchboard_websocket_connections"] == 2)
        #expect(during["switchboard_websocket_connections_total"] == 2)
        #expect(during[#"switchboard_terminals{type="SwitchboardSamples.Echo"}"#] == 1)
        #expect(during[#"switchboard_terminals{type="Switchboard.Pty"}"#] == 1)
        #expect(during["switchboard_pty_sessions"] == 1)
        #expect((during[#"switchboard_websocket_messages_total{direction="in"}"#] ?? 0) >= 3)
        #expect((during[#"switchboard_websocket_messages_total{direction="out"}"#] ?? 0) >= 3)
        #expect((during[#"switchboard_websocket_bytes_total{direction="in"}"#] ?? 0) >= 6)
        #expect(during[#"switchboard_rest_requests_total{method="GET",status="200"}"#] == 1)
        #expect(during[#"switchboard_rest_requests_total{method="GET",status="404"}"#] == 1)
        #expect(during["switchboard_rest_request_duration_seconds_count"] == 2)
        #expect((during["switchboard_pty_keystroke_echo_seconds_count"] ?? 0) >= 1)
        #expect(during[#"switchboard_pty_keystroke_echo_seconds_bucket{le="+Inf"}"#] == during["switchboard_pty_keystroke_echo_seconds_count"])

        // Leaving: the Echo terminal closes, the PTY ends; the gauges come down.
        _ = try await echo.close()
        pty.send("exit\r")
        _ = try await pty.read(until: "? <no query>")
        let deadline = ContinuousClock.now + .seconds(20)
        var after = try await scrape(port: port, token: token)
        while after[#"switchboard_terminals{type="SwitchboardSamples.Echo"}"#] != 0 || after["switchboard_pty_sessions"] != 0 {
            guard ContinuousClock.now < deadline else { break }
            try await Task.sleep(for: .milliseconds(50))
            after = try await scrape(port: port, token: token)
        }
        #expect(after[#"switchboard_terminals{type="SwitchboardSamples.Echo"}"#] == 0)
        #expect(after["switchboard_pty_sessions"] == 0)
        #expect(after[#"switchboard_terminals{type="Switchboard.Shell"}"#] == 1)  // the PTY's client is back in the Shell
        #expect(after["switchboard_websocket_connections"] == 1)
        _ = try await pty.close()
        process.terminate()
        try await onOwnThread { process.waitUntilExit() }
    }

    @Test func aScraperKeyReadsTheMetricsAndNothingElseAndOtherKeysDoNotReadThem() async throws {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let file = data + "/keys.json"
        let scraper = try await run(["keys", "add", "prometheus", "--allow", "Switchboard.Metrics:GET", "--file", file], input: "")
        let reader = try await run(["keys", "add", "reader", "--allow", "SwitchboardSamples.*:GET", "--file", file], input: "")
        #expect(scraper.status == 0 && reader.status == 0, "\(scraper.err)\(reader.err)")
        let (process, port) = try await startServe(dataDirectory: data)
        defer { if process.isRunning { process.terminate() } }
        let asScraper = ["Authorization: Bearer \(scraper.out.trimmingCharacters(in: .whitespacesAndNewlines))"]
        let asReader = ["Authorization: Bearer \(reader.out.trimmingCharacters(in: .whitespacesAndNewlines))"]
        #expect(try await RawHTTP.request(port: port, "GET", "/metrics", headers: asScraper).status == 200)
        #expect(try await RawHTTP.request(port: port, "GET", "/api/superhero", headers: asScraper).status == 403)
        #expect(try await RawHTTP.request(port: port, "GET", "/api/superhero", headers: asReader).status == 200)
        let refused = try await RawHTTP.request(port: port, "GET", "/metrics", headers: asReader)
        #expect(refused.status == 403)
        #expect(refused.body.contains("may not GET Switchboard.Metrics"))
        process.terminate()
        try await onOwnThread { process.waitUntilExit() }
    }
}
