import Foundation
import Testing

@testable import SwitchboardTestSupport

extension CommandLineTests {
    /// A web page on another origin uses the REST API with `fetch` in headless Chromium: against a `serve` that
    /// lists its origin (`--allow-origin`), its GET, its JSON POST (both after a preflight) and a REPORT with a
    /// wrong key are answered and readable (`401`); against one that does not, the browser keeps every answer
    /// from the page and nothing is written. Before, no answer carried `Access-Control-Allow-Origin`, and the
    /// preflight was answered `401`: a listed origin could open WebSockets but not use the REST API.
    @Test(.enabled(if: browserAvailable, "needs chromium, chromium-driver and selenium (.ci/run installs them)"))
    func aPageOfAListedOriginUsesTheRESTAPIAndOthersCannotReadIt() async throws {
        let page = Process()
        page.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        page.arguments = ["python3", FileManager.default.currentDirectoryPath + "/Tests/Support/cross_origin_page.py"]
        let input = Pipe()
        let output = Pipe()
        page.standardInput = input
        page.standardOutput = output
        try page.run()
        defer { if page.isRunning { page.terminate() } }
        let first = try await firstLine(of: output.fileHandleForReading).trimmingCharacters(in: .whitespacesAndNewlines)
        let pagePort = try #require(first.hasPrefix("page ") ? Int(first.dropFirst(5)) : nil, "\(first)")

        let listing = Self.temporaryDirectory()
        let other = Self.temporaryDirectory()
        defer { for data in [listing, other] { try? FileManager.default.removeItem(atPath: data) } }
        let (listingServer, listingPort) = try await startServe(dataDirectory: listing, ["--allow-origin", "http://127.0.0.1:\(pagePort)"])
        defer { if listingServer.isRunning { listingServer.terminate() } }
        let (otherServer, otherPort) = try await startServe(dataDirectory: other)
        defer { if otherServer.isRunning { otherServer.terminate() } }

        let servers = [(listingPort, try Self.token(listing)), (otherPort, try Self.token(other))]
        try input.fileHandleForWriting.write(contentsOf: Data(servers.map { "\($0.0) \($0.1)\n" }.joined().utf8))
        try input.fileHandleForWriting.close()
        let results = try await onOwnThread { String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
            .split(separator: "\n").map(String.init)
        try await onOwnThread { page.waitUntilExit() }
        #expect(results.count == 2, "\(results)")
        #expect(results.first == #"{"get": "200 1 entities found", "post": "201 1 entities inserted into 'SwitchboardSamples.Superhero'", "report": "401"}"#)
        #expect(results.last == #"{"get": "blocked", "post": "blocked", "report": "blocked"}"#)

        // What each server holds: the listed origin's POST went in, the other's never reached a store.
        for ((port, token), count) in zip(servers, [1, 0]) {
            let heroes = try await RawHTTP.request(
                port: port, "REPORT", "/api/superhero/name=Cross%20Origin", headers: ["Authorization: Bearer \(token)"])
            #expect(heroes.body.contains("\"Count\": \(count)"), "\(port): \(heroes.body)")
        }
    }
}
