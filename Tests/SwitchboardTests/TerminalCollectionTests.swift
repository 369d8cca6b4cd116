import NIOCore
import Switchboard
import SwitchboardTesting
import Testing

/// A member of a group: what it receives goes to the other members of its group.
actor GroupMember: TextInputTerminal {
    static var resourceName: String { "Tests.GroupMember" }
    @Property var group = "a"
    init() {}
    func isIn(_ name: String) -> Bool { group == name }
    func open(_ connection: TerminalConnection) async throws {}
    func receive(text: String, from connection: TerminalConnection) async throws {
        let group = self.group
        let count = await connection.api.broadcast(text, to: GroupMember.self, except: connection) { await $0.isIn(group) }
        try await connection.send("sent to \(count)")
    }
    func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {}
}

/// Terminal collections, broadcast and observing, across connections of one API.
@Suite(.timeLimit(.minutes(1)))
struct TerminalCollectionTests {
    @Test func listsBroadcastsAndObservesTheTerminalsOfAType() async throws {
        let api = SwitchboardAPI()
        api.register { GroupMember() }
        let events = Mailbox<String>()
        let observer = Task {
            for await event in api.terminalEvents(of: GroupMember.self) {
                switch event {
                case .opened(let member): events.deliver("opened \(await member.terminal.group)")
                case .closed(let member, let reason): events.deliver("closed \(await member.terminal.group) \(reason)")
                }
            }
        }
        defer { observer.cancel() }
        // The stream is registered when made: nothing opened before is missed.
        let ada = TestConnection.open(api, uri: "/groupmember/group=x")
        #expect(await events.receive() == "opened x")
        let bob = TestConnection.open(api, uri: "/groupmember/group=x")
        #expect(await events.receive() == "opened x")
        let cy = TestConnection.open(api, uri: "/groupmember/group=y")
        #expect(await events.receive() == "opened y")
        let shell = TestConnection.open(api)
        _ = try await shell.receiveText()

        #expect(api.terminals(of: GroupMember.self).count == 3)
        #expect(Set(api.terminals(of: GroupMember.self).map(\.connection.id)).count == 3)
        await ada.send("hello x")
        #expect(try await bob.receiveText() == "hello x")
        #expect(try await ada.receiveText() == "sent to 1")
        await cy.send("hello y")
        #expect(try await cy.receiveText() == "sent to 0")
        // Bob got nothing from y: his next message is the one after.
        await ada.send("again")
        #expect(try await bob.receiveText() == "again")

        await bob.send("#SHELL")
        #expect(await events.receive() == "closed x switched")
        await ada.close()
        #expect(await events.receive() == "closed x disconnected")
        #expect(api.terminals(of: GroupMember.self).count == 1)
        await cy.send("alone")
        #expect(try await cy.receiveText() == "sent to 0")
        await cy.close()
        #expect(await events.receive() == "closed y disconnected")
        await bob.close()
        await shell.close()
    }
}
