// The third way to run a terminal (Docs/Embedding.md, Docs/Testing.md): in-process, with no server and no
// socket, through SwitchboardTesting.
import Switchboard
import SwitchboardTesting
import Testing

@testable import TodoApp

@Suite(.timeLimit(.minutes(1)))
struct TodoInProcessTests {
    @Test func addsAndRefusesBadInput() async throws {
        let api = SwitchboardAPI()
        api.register { Todo() }
        let connection = TestConnection.open(api, uri: "/todo/owner=ada&capacity=1")
        #expect(try await connection.receiveText() == "ada's list. Commands: add <text>, done <n>, list, save, chores, shell")
        await connection.send("add Water the plants")
        #expect(try await connection.receiveText() == "Added #1")
        await connection.send("add Feed the cat")
        #expect(try await connection.receiveText() == "400: Bad request. The list is full (Capacity 1); mark something done first")
        await connection.close()
    }

    /// `send(json:)` with an `Encodable` value: JSONEncoder's layout, keys sorted.
    @Test func listsAsJSON() async throws {
        let api = SwitchboardAPI()
        api.register { Todo() }
        let connection = TestConnection.open(api, uri: "/todo/owner=ada&order=alphabetical")
        _ = try await connection.receiveText()
        for item in ["b", "a"] {
            await connection.send("add \(item)")
            _ = try await connection.receiveText()
        }
        await connection.send("list")
        #expect(try await connection.receiveText() == "{\n  \"items\" : [\n    \"a\",\n    \"b\"\n  ],\n  \"owner\" : \"ada\"\n}")
        await connection.close()
    }
}
