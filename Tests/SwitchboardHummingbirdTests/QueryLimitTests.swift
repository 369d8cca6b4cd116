import Foundation
import Switchboard
import SwitchboardHummingbird
import SwitchboardTesting
import Synchronization
import Testing

@testable import SwitchboardTestSupport

/// A resource whose every read scans forever, as a query over millions of rows would, until it is cancelled
/// (or, when it says it selects cooperatively and runs in the caller's task, until its deadline).
final class EndlessScan: EntityResource, Sendable {
    struct Row: Codable, Sendable { var number: Int }
    var resourceName: String { "Tests.EndlessScan" }
    let selectsCooperatively: Bool

    init(cooperative: Bool = false) { selectsCooperatively = cooperative }
    /// One element each time a scan stops.
    let stopped = Mailbox<Void>()
    private let relaxed = Atomic(false)

    /// From now on the scans wait between steps instead of spinning: a test that has seen what it wanted of
    /// busy scans stops them from taking the CPU from every other test until their deadline.
    func relax() { relaxed.store(true, ordering: .relaxed) }

    func select(_ request: EntitySelectRequest) async throws -> EntitySelection<Row> {
        var progress = QueryProgress()
        do {
            while true {
                try await progress.advance()
                if relaxed.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(20)) }
            }
        } catch {
            stopped.deliver(())
            throw error
        }
    }
}

final class AnsweredCount: Sendable {
    let value = Atomic(0)
}

/// The limits on what one query may cost: rows per request and time.
@Suite(.timeLimit(.minutes(1)))
struct QueryLimitTests {
    @Test func aGetWithoutLimitReturnsOnePageAndALinkToTheNext() async throws {
        try await TestServer.with(api: .init(maxRowsPerRequest: 4)) { server in
            let first = try await RawHTTP.request(port: server.port, "GET", "/api/superhero")
            #expect(first.status == 200)
            #expect(try RESTOverHTTPTests.names(first.body).count == 4)
            #expect(first.head.contains("Switchboard-Info: The first 4 entities found (the most one request returns; NextPage has more)"))
            guard case .object(let envelope) = try JSON(parsing: first.body), case .string(let next)? = envelope["NextPage"] else {
                Issue.record("no NextPage in \(first.body)")
                return
            }
            #expect(next.contains("limit=4") && next.contains("offset=4"))
            let second = try await RawHTTP.request(port: server.port, "GET", "/api" + next)
            #expect(try RESTOverHTTPTests.names(second.body).count == 2)
            #expect(!second.body.contains("NextPage"))
            // Counting is not paged; asking for more than a page is refused.
            let report = try await RawHTTP.request(port: server.port, "REPORT", "/api/superhero")
            #expect(report.body.contains("\"Count\": 6"))
            let tooMany = try await RawHTTP.request(port: server.port, "GET", "/api/superhero//limit=5")
            #expect(tooMany.status == 400)
            #expect(tooMany.body.contains("limit=5 is more than the 4 rows one request may return"))
        }
    }

    @Test func queriesPastTheirTimeAreAnswered503AndStoppedWhileOthersAreServed() async throws {
        let scan = EndlessScan()
        try await TestServer.with(api: .init(queryTimeout: .seconds(30)), configure: { $0.register(resource: scan) }) { server in
            let answered = AnsweredCount()
            let port = server.port
            let queries = (0..<4).map { _ in
                Task {
                    defer { answered.value.add(1, ordering: .relaxed) }
                    return try await RawHTTP.request(port: port, "GET", "/api/tests.endlessscan")
                }
            }
            // Four endless scans spin on the CPU; an echo still gets through long before their deadline (30 s: the
            // test process is busy with other suites). Then they wait between steps, so that they do not slow
            // every other test down until their deadline.
            let echo = try await WebSocketTestClient.connect(server.base + "/api/echo")
            echo.send("still here")
            #expect(try await echo.receiveText() == "still here")
            let answeredDuringScans = answered.value.load(ordering: .relaxed)
            scan.relax()
            #expect(answeredDuringScans == 0, "the echo came back after the queries' deadline")
            for query in queries {
                let response = try await query.value
                #expect(response.status == 503)
                #expect(response.body.contains("\"ErrorCode\": \"QueryTimeout\"") || response.body.contains("QueryTimeout"))
                #expect(response.body.contains("took longer than the 30 s a query may take"))
            }
            for _ in 0..<4 { _ = await scan.stopped.receive() }
        }
    }

    /// A cooperative store's read runs in the caller's task: `QueryProgress` ends it at the deadline.
    @Test(arguments: [false, true])
    func readsFromTheShellHaveTheSameDeadline(cooperative: Bool) async throws {
        let scan = EndlessScan(cooperative: cooperative)
        try await TestServer.with(api: .init(queryTimeout: .milliseconds(500)), configure: { $0.register(resource: scan) }) { server in
            let shell = try await ShellRESTTests.openShell(server)
            shell.send("GET /tests.endlessscan")
            var status = ""
            // The error body comes as a binary message before the status line.
            while !status.hasPrefix("503") {
                switch await shell.receive() {
                case .text(let text)?: status = TestConnection.withoutErrorReference(text)
                case .binary?: continue
                case nil: throw TestFailure("the Shell closed before the status line")
                }
            }
            ShellRESTTests.expectStatus(
                status, "503: Service unavailable",
                "The query on 'Tests.EndlessScan' took longer than the 500 ms a query may take; narrow it with conditions, or page it with limit and offset")
            _ = await scan.stopped.receive()
        }
    }

    @Test func shellCommandsBeyondTheBurstArePacedNotDropped() async throws {
        try await TestServer.with(api: .init(shellCommandsPerSecond: 10, shellCommandBurst: 5)) { server in
            let paced = try await ShellRESTTests.openShell(server)
            let start = ContinuousClock.now
            for number in 1...15 { paced.send("GO /superhero/year>\(1900 + number)") }
            // Another connection has its own bucket: it is answered while the first is still being paced.
            let other = try await ShellRESTTests.openShell(server)
            other.send("GO /echo")
            #expect(try await other.receiveText() == "? /SwitchboardSamples.Echo")
            // A global command keeps its place after the paced commands sent before it.
            paced.send("#INFO")
            var replies: [String] = []
            for _ in 1...15 { replies.append(try await paced.receiveText()) }
            let elapsed = start.duration(to: .now)
            #expect(replies == (1...15).map { "? /SwitchboardSamples.Superhero/Year>\(1900 + $0)" }, "every command ran, in order")
            #expect(try await paced.receiveText().contains("\"WebSocketId\""))
            // 5 at once, then 10 at 10 per second: the last cannot come before 1 s (a lower bound, not a timing).
            #expect(elapsed >= .milliseconds(950), "\(elapsed)")
        }
    }
}
