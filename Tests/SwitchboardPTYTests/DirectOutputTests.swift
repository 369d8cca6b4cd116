import Foundation
import NIOCore
import NIOPosix
import Synchronization
import SwitchboardTesting
import Testing

@testable import SwitchboardPTY

/// Output straight from the PTY's event loop to a session's only client (``DirectOutput``): taken only when
/// nothing is ahead of it, in order with the output that goes through the session, and never for a session
/// that records, replays to later clients or has no client.
@Suite(.timeLimit(.minutes(1))) struct DirectOutputTests {
    @Test func theWayIsTakenOnlyWhenNothingIsAheadAndTheBytesAreWholeCharacters() async throws {
        let direct = DirectOutput()
        let routed = Mutex<[String]>([])
        let refuses = Atomic<Bool>(false)
        let route: DirectOutput.Route = { bytes in
            guard !refuses.load(ordering: .relaxed) else { return false }
            routed.withLock { $0.append(String(buffer: bytes)) }
            return true
        }
        let taken = BoundedQueueSignal()
        let release = BoundedQueueSignal()
        let outbox = ClientOutbox(
            deliver: { _ in
                taken.signal()
                await release.wait()
            }, report: { _ in })

        #expect(!direct.send(ByteBuffer(string: "closed")), "no way yet: through the session")
        direct.route((outbox, route))
        #expect(!direct.send(ByteBuffer(string: "behind")), "a read is still on its way through the session")
        direct.delivered(route: (outbox, route))
        #expect(!direct.send(ByteBuffer(string: "behind")), "and another")
        direct.delivered(route: (outbox, route))
        direct.delivered(route: (outbox, route))
        #expect(direct.send(ByteBuffer(string: "a")))
        #expect(direct.send(ByteBuffer(string: "é€😀")))
        #expect(!direct.send(ByteBuffer(bytes: [0x61, 0xE2, 0x82])), "a character cut short waits for its rest in the session")
        direct.delivered(route: (outbox, route))
        #expect(!direct.send(ByteBuffer(bytes: [0x61, 0xFF, 0x62])), "invalid bytes are the session's to replace")
        direct.delivered(route: (outbox, route))
        refuses.store(true, ordering: .relaxed)
        #expect(!direct.send(ByteBuffer(string: "full")), "the connection cannot take it at once")
        refuses.store(false, ordering: .relaxed)
        direct.delivered(route: (outbox, route))

        outbox.enqueue(.notice("bob joined"))
        await taken.wait()
        #expect(!direct.send(ByteBuffer(string: "queued")), "the client's outbox is sending: after it")
        direct.delivered(route: (outbox, route))
        release.signal()
        await outbox.sendRemainingAndStop()
        #expect(direct.send(ByteBuffer(string: "b")))
        direct.route(nil)
        #expect(!direct.isOpen)
        #expect(!direct.send(ByteBuffer(string: "closed again")))
        #expect(routed.withLock { $0 } == ["a", "é€😀", "b"])
    }

    /// A per-connection session's client whose connection takes every other output offered at once:
    /// everything the program writes arrives once, in order, whichever way each piece went.
    @Test func outputKeepsItsOrderAcrossBothWays() async throws {
        let (session, terminal) = try await Self.session(replaysToLateClients: false)
        let received = Mailbox<String>()
        let counts = Mutex<(direct: Int, throughSession: Int)>((0, 0))
        let refuseNext = Atomic<Bool>(false)
        let client = PTYSession.Client(
            who: "test", identity: "test",
            deliver: { item in
                guard case .output(let bytes) = item else { return }
                counts.withLock { $0.throughSession += 1 }
                received.deliver(String(buffer: bytes))
            },
            deliverAtOnce: { bytes in
                // Every other offer is refused, so the two ways alternate.
                guard !refuseNext.load(ordering: .relaxed) else {
                    refuseNext.store(false, ordering: .relaxed)
                    return false
                }
                refuseNext.store(true, ordering: .relaxed)
                counts.withLock { $0.direct += 1 }
                received.deliver(String(buffer: bytes))
                return true
            },
            exited: { _ in }, evicted: { _ in }, size: (24, 80), readOnly: false)
        let id = await session.attach(client, first: nil)
        #expect(terminal.directOutput.isOpen)
        await session.start {}
        var text = ""
        func receive(until marker: String) async {
            while !text.contains(marker), let part = await received.receive() { text += part }
        }
        try await session.write(ByteBuffer(string: "stty -echo; echo R$((1+1))DY\n"), from: id)
        await receive(until: "R2DY")
        // Small pieces one at a time, each offered once nothing is ahead of it: both ways are taken.
        for piece in 1...8 {
            while !terminal.directOutput.isClear { await Task.yield() }
            try await session.write(ByteBuffer(string: "echo s\(piece)\n"), from: id)
            await receive(until: "s\(piece)\r\n")
        }
        // Then a burst, read in bulk, whichever way each read goes.
        try await session.write(ByteBuffer(string: "seq 1 20000; echo E$((2+2))ND\n"), from: id)
        await receive(until: "E4ND")
        let lines = text.split(whereSeparator: \.isNewline).map { $0.replacingOccurrences(of: "$ ", with: "") }
        #expect(lines.filter { $0.count == 2 && $0.hasPrefix("s") } == (1...8).map { "s\($0)" })
        let numbers = lines.compactMap(Int.init)
        let inOrder = numbers.elementsEqual(1...20000)
        #expect(inOrder, "every number once, in order: \(numbers.count) numbers, first wrong at \(String(describing: zip(numbers, 1...).first { $0 != $1 }))")
        let (direct, throughSession) = counts.withLock { $0 }
        #expect(direct >= 4 && throughSession >= 4, "direct \(direct), through the session \(throughSession)")
        await session.detach(id)
        #expect(!terminal.directOutput.isOpen, "no client: closed")
        await session.kill(grace: .milliseconds(200))
    }

    /// A shared program keeps its recent output for later clients, and a recorded one records every byte:
    /// their output always goes through the session.
    @Test func aSharedOrRecordedSessionKeepsTheWayClosed() async throws {
        let client = PTYSession.Client(
            who: "test", identity: "test", deliver: { _ in }, deliverAtOnce: { _ in true }, exited: { _ in }, evicted: { _ in },
            size: (24, 80), readOnly: false)

        let (shared, sharedTerminal) = try await Self.session(replaysToLateClients: true)
        _ = await shared.attach(client, first: nil)
        #expect(!sharedTerminal.directOutput.isOpen)
        await shared.start {}
        await shared.kill(grace: .milliseconds(200))

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-direct-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let recordings = try await SessionRecordings(configuration: RecordingConfiguration(directory: directory))
        let (recorded, recordedTerminal) = try await Self.session(replaysToLateClients: false)
        try await recorded.startRecording(in: recordings, audit: false)
        let id = await recorded.attach(client, first: nil)
        #expect(!recordedTerminal.directOutput.isOpen)
        await recorded.start {}
        await recorded.detach(id)
        await recorded.kill(grace: .milliseconds(200))
        await recordings.close()

        let (own, ownTerminal) = try await Self.session(replaysToLateClients: false)
        let ownID = await own.attach(client, first: nil)
        #expect(ownTerminal.directOutput.isOpen, "a connection's own program, unrecorded: open")
        await own.detach(ownID)
        #expect(!ownTerminal.directOutput.isOpen)
        await own.start {}
        await own.kill(grace: .milliseconds(200))
    }

    /// A connection's own program is read and written on the connection's event loop, so that its output does
    /// not cross threads on its way to the client; a named program, which other connections may join, runs on
    /// the manager's group.
    @Test func aConnectionsOwnProgramRunsOnItsConnectionsEventLoop() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let connectionLoop = MultiThreadedEventLoopGroup.singleton.next()
        let manager = PTYManager(configuration: .init(program: PTYProgram("/bin/sh")), group: group)
        let own = try await manager.session(named: nil, owner: "test", clientIP: "127.0.0.1", rows: 24, cols: 80, connectionLoop: connectionLoop)
        #expect(own.terminal.channel.channel.eventLoop === connectionLoop)
        let named = try await manager.session(named: "work", owner: "test", clientIP: "127.0.0.1", rows: 24, cols: 80, connectionLoop: connectionLoop)
        #expect(named.terminal.channel.channel.eventLoop !== connectionLoop)
        let withoutLoop = try await manager.session(named: nil, owner: "test", clientIP: "127.0.0.1", rows: 24, cols: 80)
        #expect(withoutLoop.terminal.channel.channel.eventLoop !== connectionLoop)
        await manager.shutdown()
        try await group.shutdownGracefully()
    }

    private static func session(replaysToLateClients: Bool) async throws -> (PTYSession, PseudoTerminal) {
        let program = PTYProgram("/bin/sh", environment: ["PS1": "$ "])
        let terminal = try await PseudoTerminal.spawn(program, rows: 24, cols: 80, group: MultiThreadedEventLoopGroup.singleton)
        let session = PTYSession(
            name: nil, owner: "test", terminal: terminal, rows: 24, cols: 80, replayLimit: 4096, replaysToLateClients: replaysToLateClients,
            idleTimeout: nil)
        return (session, terminal)
    }
}
