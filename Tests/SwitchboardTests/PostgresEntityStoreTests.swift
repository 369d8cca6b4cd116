import Foundation
import NIOCore
import PostgresNIO
import Switchboard
import SwitchboardPostgres
import SwitchboardSamples
import SwitchboardTesting
import Testing

/// The PostgreSQL store on its own, on a real database (`SWITCHBOARD_TEST_POSTGRES`; `.ci/run` starts Debian's
/// PostgreSQL). The query language is checked against it beside the other stores in `QueryLanguageTests`.
@Suite(.timeLimit(.minutes(1)), .enabled(if: TestPostgres.url != nil, "needs SWITCHBOARD_TEST_POSTGRES (.ci/run starts PostgreSQL)"))
struct PostgresEntityStoreTests {
    static func api(table: String, seed: [Hero] = Hero.seed) async throws -> SwitchboardAPI {
        let api = SwitchboardAPI()
        api.register(
            resource: try await PostgresEntityStore<Hero>.open(client: try await TestPostgres.client(), table: table, name: "Tests.Hero", seed: seed))
        return api
    }

    @Test func twoInstancesStartingTogetherSeedOnceAndSeeEachOthersWrites() async throws {
        let table = TestPostgres.newTable()
        // Two servers starting at the same moment on one database: the table is created and seeded once.
        async let first = Self.api(table: table)
        async let second = Self.api(table: table)
        let (one, two) = try await (first, second)
        #expect(try await one.names("/hero//select=name").count == Hero.seed.count)
        let body = #"{"Name": "Rogue", "Year": 1981, "HasSecretIdentity": false, "Debut": "1981-03-01T12:00:00.125Z"}"#
        #expect(await one.run(.POST, "/hero", body: body, headers: [.contentType: "application/json"]).status == 201)
        #expect(try await two.names("/hero/year>1980") == ["Deadpool", "Rogue"])
        let written = await two.run(.GET, "/hero/name=Rogue/select=debut", headers: [.accept: "application/json; raw=true"])
        #expect(written.body == [["Debut": "1981-03-01T12:00:00.125Z"]], "milliseconds kept")
        #expect(await two.run(.DELETE, "/hero/name=Rogue").body.map { "\($0)" }?.contains("DeletedCount") == true)
        #expect(try await one.names("/hero/name=Rogue").isEmpty)
    }

    @Test func aTableGoneFromUnderTheStoreIsAnErrorWithAnIdNotTheDatabasesMessage() async throws {
        let table = TestPostgres.newTable()
        let api = try await Self.api(table: table)
        try await TestPostgres.client().query(PostgresQuery(unsafeSQL: "DROP TABLE \"\(table)\""))
        let response = await api.run(.GET, "/hero")
        #expect(response.status == 500, "\(response.statusLine)")
        #expect(response.statusLine.contains("error id"), "\(response.statusLine)")
        #expect(!response.statusLine.contains(table))
    }
}

/// Broadcast groups across instances: two APIs, each joined to its own `PostgresClusterBackplane` on one
/// database, on a channel of the test's own.
@Suite(.timeLimit(.minutes(1)), .enabled(if: TestPostgres.url != nil, "needs SWITCHBOARD_TEST_POSTGRES (.ci/run starts PostgreSQL)"))
struct PostgresClusterBackplaneTests {
    static func instance(_ name: String, channel: String) async throws -> SwitchboardAPI {
        let api = SwitchboardAPI()
        api.register { ChatRoom() }
        await api.join(
            cluster: try await PostgresClusterBackplane.open(
                client: try await TestPostgres.client(), database: try PostgresDatabaseURL(try #require(TestPostgres.url)), instanceName: name, channel: channel
            ))
        return api
    }

    /// Waits until the API lists a chat room terminal (up to 10 s).
    func eventuallyListed(in api: SwitchboardAPI) async -> Bool {
        for _ in 0..<500 where api.terminals(of: ChatRoom.self).isEmpty { try? await Task.sleep(for: .milliseconds(20)) }
        return !api.terminals(of: ChatRoom.self).isEmpty
    }

    /// Messages until one contains `marker`.
    static func read(_ connection: TestConnection, until marker: String) async throws -> [String] {
        var seen: [String] = []
        while seen.last?.contains(marker) != true { seen.append(try await connection.receiveText()) }
        return seen
    }

    @Test func aChatRoomSpansInstancesInOrderPerSender() async throws {
        let tag = UUID().uuidString.prefix(6).lowercased()
        let channel = "switchboard_test_\(tag)"
        let (one, two) = (try await Self.instance("one-\(tag)", channel: channel), try await Self.instance("two-\(tag)", channel: channel))
        let room = "room-\(UUID().uuidString.prefix(6))"
        let ada = TestConnection.open(one, uri: "/chatroom/nickname=Ada&room=\(room)")
        _ = try await Self.read(ada, until: "Welcome")
        // A terminal is listed (and so reached) once its open has returned, just after the welcome.
        #expect(await eventuallyListed(in: one))
        let grace = TestConnection.open(two, uri: "/chatroom/nickname=Grace&room=\(room)")
        _ = try await Self.read(grace, until: "Welcome")
        #expect(await eventuallyListed(in: two))
        // Grace joined on the other instance: Ada hears of it.
        _ = try await Self.read(ada, until: "* Grace joined")
        for number in 1...20 { await ada.send("line \(number)") }
        let lines = try await Self.read(grace, until: "Ada: line 20").filter { $0.hasPrefix("Ada: ") }
        #expect(lines == (1...20).map { "Ada: line \($0)" })
        // Nobody hears themselves, and another room hears nothing.
        let other = TestConnection.open(two, uri: "/chatroom/nickname=Lin&room=\(room)-elsewhere")
        _ = try await Self.read(other, until: "Welcome")
        await grace.send("hi Ada")
        #expect(try await Self.read(ada, until: "Grace: hi Ada").last == "Grace: hi Ada")
        await other.send("anyone?")
        await ada.send("bye")
        #expect(try await Self.read(grace, until: "Ada: bye") == ["Ada: bye"])
        // Too long for a notification: the sender is told, the connection stays.
        await ada.send(String(repeating: "x", count: 8_000))
        #expect(try await ada.receiveText().hasPrefix("413: Content too large. The message is too long for the cluster"))
        for connection in [ada, grace, other] { await connection.close() }
        await one.leaveCluster()
        await two.leaveCluster()
        #expect(one.instanceName == nil)
    }
}
