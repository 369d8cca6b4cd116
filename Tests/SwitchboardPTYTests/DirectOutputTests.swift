import Foundation
import NIOCore
import NIOPosix
import Synchronization
import SwitchboardCore
import SwitchboardTesting
import Testing

@testable import SwitchboardPTY
@testable import SwitchboardTestSupport

/// Output straight from the PTY's event loop to a session's only client (``DirectOutput``): taken only when
/// nothing is ahead of it, in order with the output that goes through the session (and in a recording), and
/// never for a session that replays to later clients or has no client.
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

        let destination = DirectOutput.Destination(outbox: outbox, route: route)
        #expect(!direct.send(ByteBuffer(string: "closed")), "no way yet: through the session")
        direct.route(destination)
        #expect(!direct.send(ByteBuffer(string: "behind")), "a read is still on its way through the session")
        direct.delivered(route: destination)
        #expect(!direct.send(ByteBuffer(string: "behind")), "and another")
        direct.delivered(route: destination)
        direct.delivered(route: destination)
        #expect(direct.send(ByteBuffer(string: "a")))
        #expect(direct.send(ByteBuffer(string: "é€😀")))
        #expect(!direct.send(ByteBuffer(bytes: [0x61, 0xE2, 0x82])), "a character cut short waits for its rest in the session")
        direct.delivered(route: destination)
        #expect(!direct.send(ByteBuffer(bytes: [0x61, 0xFF, 0x62])), "invalid bytes are the session's to replace")
        direct.delivered(route: destination)
        refuses.store(true, ordering: .relaxed)
        #expect(!direct.send(ByteBuffer(string: "full")), "the connection cannot take it at once")
        refuses.store(false, ordering: .relaxed)
        direct.delivered(route: destination)

        outbox.enqueue(.notice("bob joined"))
        await taken.wait()
        #expect(!direct.send(ByteBuffer(string: "queued")), "the client's outbox is sending: after it")
        direct.delivered(route: destination)
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
        let run = try await Self.runAlternating(session, terminal)
        Self.expectEveryPieceInOrder(run.text)
        #expect(run.direct >= 4 && run.throughSession >= 4, "direct \(run.direct), through the session \(run.throughSession)")
        await session.detach(run.id)
        #expect(!terminal.directOutput.isOpen, "no client: closed")
        await session.kill(grace: .milliseconds(200))
    }

    /// A recorded session whose client takes every other output at once: the recording holds exactly what
    /// the client got, in order, whichever way each piece went, and its times never go back.
    @Test func aRecordingKeepsTheOrderOfTheOutputAcrossBothWays() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-direct-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let recordings = try await SessionRecordings(configuration: RecordingConfiguration(directory: directory))
        let (session, terminal) = try await Self.session(replaysToLateClients: false)
        try await session.startRecording(in: recordings, audit: false)
        let id = try #require(await session.recordingID)
        let ended = BoundedQueueSignal()
        let run = try await Self.runAlternating(session, terminal, onEnd: { ended.signal() }) {
            #expect(terminal.directOutput.records)
        }
        Self.expectEveryPieceInOrder(run.text)
        #expect(run.direct >= 4 && run.throughSession >= 4, "direct \(run.direct), through the session \(run.throughSession)")
        await session.kill(grace: .milliseconds(200))
        await ended.wait()
        await recordings.close()

        let lines = try String(contentsOfFile: directory + "/" + id + ".cast", encoding: .utf8).split(separator: "\n").dropFirst()
        var times: [Double] = []
        var recorded = ""
        for line in lines {
            guard case .array(let event) = try JSON(parsing: String(line)), event.count == 3, case .double(let time) = event[0] else {
                throw TestFailure("not an event: \(line)")
            }
            times.append(time)
            if event[1] == "o", case .string(let text) = event[2] { recorded += text }
        }
        #expect(recorded == run.text)
        #expect(times == times.sorted(), "the times never go back")
    }

    /// Attaches a client whose connection refuses every other offer, so the two ways alternate; starts the
    /// program, writes small pieces one at a time (each offered once nothing is ahead of it), then a burst.
    private static func runAlternating(
        _ session: PTYSession, _ terminal: PseudoTerminal, onEnd: @escaping @Sendable () -> Void = {}, whenAttached: () -> Void = {}
    ) async throws -> (text: String, direct: Int, throughSession: Int, id: Int) {
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
        whenAttached()
        await session.start { onEnd() }
        var text = ""
        func receive(until marker: String) async {
            while !text.contains(marker), let part = await received.receive() { text += part }
        }
        try await session.write(ByteBuffer(string: "stty -echo; echo R$((1+1))DY\n"), from: id)
        await receive(until: "R2DY")
        for piece in 1...8 {
            while !terminal.directOutput.isClear { await Task.yield() }
            try await session.write(ByteBuffer(string: "echo s\(piece)\n"), from: id)
            await receive(until: "s\(piece)\r\n")
        }
        try await session.write(ByteBuffer(string: "seq 1 20000; echo E$((2+2))ND\n"), from: id)
        // To the prompt after the burst: the shell writes nothing more, so a recording of the session ends
        // where the client's text does (the prompt may come in a read of its own, after the marker).
        await receive(until: "E4ND\r\n$ ")
        let (direct, throughSession) = counts.withLock { $0 }
        return (text, direct, throughSession, id)
    }

    /// The eight small pieces, then every number of the burst once, in order.
    private static func expectEveryPieceInOrder(_ text: String) {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.replacingOccurrences(of: "$ ", with: "") }
        #expect(lines.filter { $0.count == 2 && $0.hasPrefix("s") } == (1...8).map { "s\($0)" })
        let numbers = lines.compactMap(Int.init)
        let inOrder = numbers.elementsEqual(1...20000)
        #expect(inOrder, "every number once, in order: \(numbers.count) numbers, first wrong at \(String(describing: zip(numbers, 1...).first { $0 != $1 }))")
    }

    /// A shared program keeps its recent output for later clients: its output always goes through the
    /// session. A recorded one takes the way, which records what it sends.
    @Test func aSharedSessionKeepsTheWayClosedAndARecordedOneRecordsOnIt() async throws {
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
        #expect(recordedTerminal.directOutput.isOpen && recordedTerminal.directOutput.records)
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
