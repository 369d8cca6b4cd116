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
        #expect(direct.send(ByteBuffer(string: "closed")) == .passedToSession, "no way yet: through the session")
        direct.route(destination)
        #expect(direct.send(ByteBuffer(string: "behind")) == .passedToSession, "a read is still on its way through the session")
        direct.delivered(route: destination)
        #expect(direct.send(ByteBuffer(string: "behind")) == .passedToSession, "and another")
        direct.delivered(route: destination)
        direct.delivered(route: destination)
        #expect(direct.send(ByteBuffer(string: "a")) == .sent)
        #expect(direct.send(ByteBuffer(string: "é€😀")) == .sent)
        #expect(direct.send(ByteBuffer(bytes: [0x61, 0xE2, 0x82])) == .passedToSession, "a character cut short waits for its rest in the session")
        direct.delivered(route: destination)
        #expect(direct.send(ByteBuffer(bytes: [0x61, 0xFF, 0x62])) == .passedToSession, "invalid bytes are the session's to replace")
        direct.delivered(route: destination)
        refuses.store(true, ordering: .relaxed)
        #expect(direct.send(ByteBuffer(string: "full")) == .passedToSession, "the connection cannot take it at once")
        refuses.store(false, ordering: .relaxed)
        direct.delivered(route: destination)

        outbox.enqueue(.notice("bob joined"))
        await taken.wait()
        #expect(direct.send(ByteBuffer(string: "queued")) == .passedToSession, "the client's outbox is sending: after it")
        direct.delivered(route: destination)
        release.signal()
        await outbox.sendRemainingAndStop()
        #expect(direct.send(ByteBuffer(string: "b")) == .sent)
        direct.route(nil)
        #expect(!direct.isOpen)
        #expect(direct.send(ByteBuffer(string: "closed again")) == .passedToSession)
        #expect(routed.withLock { $0 } == ["a", "é€😀", "b"])
    }

    /// A read the connection refused for want of room waits when a way to wait is given: it is not counted
    /// as passed to the session, so the next read is offered at once; a change of the way calls who waits.
    @Test func aReadRefusedForWantOfRoomWaitsAndAChangeOfTheWayCallsItBack() async throws {
        let direct = DirectOutput()
        let full = Atomic<Bool>(true)
        let canWait = Atomic<Bool>(true)
        let waiters = Mutex<[@Sendable () -> Void]>([])
        let outbox = ClientOutbox(deliver: { _ in }, report: { _ in })
        let destination = DirectOutput.Destination(
            outbox: outbox, route: { _ in !full.load(ordering: .relaxed) },
            waitForRoom: { resume in
                guard canWait.load(ordering: .relaxed) else { return false }
                waiters.withLock { $0.append(resume) }
                return true
            })
        direct.route(destination)
        let calls = Atomic<Int>(0)
        let resume: @Sendable () -> Void = { calls.add(1, ordering: .relaxed) }

        #expect(direct.send(ByteBuffer(string: "a"), resumeWhenThereIsRoom: resume) == .waiting)
        #expect(direct.isWaiting && waiters.withLock(\.count) == 1)
        full.store(false, ordering: .relaxed)
        #expect(direct.send(ByteBuffer(string: "a"), resumeWhenThereIsRoom: resume) == .sent, "nothing was counted as passed to the session")
        #expect(!direct.isWaiting)

        full.store(true, ordering: .relaxed)
        #expect(direct.send(ByteBuffer(string: "b")) == .passedToSession, "no way to be called back: through the session")
        direct.delivered(route: destination)
        canWait.store(false, ordering: .relaxed)
        #expect(direct.send(ByteBuffer(string: "c"), resumeWhenThereIsRoom: resume) == .passedToSession, "the connection cannot say when")
        direct.delivered(route: destination)
        canWait.store(true, ordering: .relaxed)

        #expect(direct.send(ByteBuffer(string: "d"), resumeWhenThereIsRoom: resume) == .waiting)
        direct.route(nil)
        #expect(calls.load(ordering: .relaxed) == 1, "the way closed: who waits offers the read again")
        #expect(!direct.isWaiting)
        #expect(direct.send(ByteBuffer(string: "d"), resumeWhenThereIsRoom: resume) == .passedToSession)
        await outbox.sendRemainingAndStop()
    }

    /// A real program writing faster than its client's connection takes: every time the connection has no
    /// room the gatherer holds the output and reads nothing more until called back, from another thread
    /// here; nothing goes through the session, and everything arrives once, in order.
    @Test func outputWaitsForRoomOnThePTYsEventLoopAndKeepsItsOrder() async throws {
        enum Event: Sendable {
            case output(String)
            case waiting(resume: @Sendable () -> Void)
        }
        let (session, terminal) = try await Self.session(replaysToLateClients: false)
        let events = Mailbox<Event>()
        // The session's way, from the command on (the first prompt may be read before the client is attached,
        // and go through the session).
        let throughSession = Atomic<Int>(0)
        let counting = Atomic<Bool>(false)
        let full = Atomic<Bool>(false)
        // Set while a wait is out: no read may be offered then (the gatherer reads nothing until called back).
        let outstanding = Atomic<Bool>(false)
        let offersWhileWaiting = Atomic<Int>(0)
        let client = PTYSession.Client(
            who: "test", identity: "test",
            deliver: { item in
                guard case .output(let bytes) = item else { return }
                if counting.load(ordering: .relaxed) { throughSession.add(1, ordering: .relaxed) }
                events.deliver(.output(String(buffer: bytes)))
            },
            deliverAtOnce: { bytes in
                if outstanding.load(ordering: .relaxed) { offersWhileWaiting.add(1, ordering: .relaxed) }
                // The connection takes one message, then has no room until the test makes some.
                guard !full.load(ordering: .relaxed) else { return false }
                full.store(true, ordering: .relaxed)
                events.deliver(.output(String(buffer: bytes)))
                return true
            },
            waitForRoom: { resume in
                outstanding.store(true, ordering: .relaxed)
                events.deliver(.waiting(resume: resume))
                return true
            },
            exited: { _ in }, evicted: { _ in }, size: (24, 80), readOnly: false)
        let id = await session.attach(client, first: nil)
        await session.start {}
        var text = ""
        var waited = 0
        // The first prompt; once whatever went through the session is delivered, the way is clear.
        while !text.contains("$ ") {
            guard case .output(let part) = await events.receive() else { throw TestFailure("no prompt") }
            text += part
        }
        while !terminal.directOutput.isClear { await Task.yield() }
        counting.store(true, ordering: .relaxed)
        try await session.write(ByteBuffer(string: "stty -echo; seq 1 100000; echo E$((2+2))ND\n"), from: id)
        while !text.contains("E4ND\r\n") {
            switch await events.receive() {
            case .output(let part): text += part
            case .waiting(let resume):
                waited += 1
                #expect(terminal.directOutput.isWaiting)
                full.store(false, ordering: .relaxed)
                outstanding.store(false, ordering: .relaxed)
                resume()
            case nil: throw TestFailure("no more events")
            }
        }
        #expect(waited >= 4, "waited \(waited) times")
        #expect(throughSession.load(ordering: .relaxed) == 0, "no output through the session")
        #expect(offersWhileWaiting.load(ordering: .relaxed) == 0, "nothing is read and offered while a read waits")
        Self.expectEveryNumber(in: text, upTo: 100_000)
        // The prompt may wait for room: detaching the client closes the way, which offers it to the session.
        await session.detach(id)
        await session.kill(grace: .milliseconds(200))
    }

    /// Through a real server, to a client that stops reading while its program writes 11 MB: the output waits
    /// for room on the connection's event loop (the program held back meanwhile), and once the client reads
    /// again every line arrives, once and in order.
    @Test func aClientThatStopsReadingGetsEveryLineInOrderOnceItReadsAgain() async throws {
        try await PTYTests.withServer { server, manager in
            let raw = try RawSocket(port: server.port)
            try await raw.upgrade(path: "/api/pty/output=terminal")
            try raw.write(RawSocket.maskedFrame(opcode: 0x1, payload: Array("stty -echo; seq 7 1500006; echo E$((2+2))ND".utf8)))
            #expect(
                await eventuallyAsync { await manager.allSessions.first?.terminal.directOutput.isWaiting ?? false },
                "the output waits for room, not in the session")
            let text = try await onOwnThread { try Self.readText(from: raw, until: Array("E4ND".utf8)) }
            let numbers = text.split { $0 == 10 || $0 == 13 }.compactMap { Int(String(decoding: $0, as: UTF8.self)) }
            let inOrder = numbers.elementsEqual(7...1_500_006)
            #expect(
                inOrder,
                "\(numbers.count) numbers, from \(numbers.first ?? -1), first wrong at \(String(describing: zip(numbers, 7...).first { $0 != $1 }))")
            raw.reset()
        }
    }

    /// The bytes of the server's text frames (unmasked), read until they end with a frame that contains
    /// `marker`; other frames are skipped.
    private static func readText(from raw: RawSocket, until marker: [UInt8]) throws -> [UInt8] {
        var text: [UInt8] = []
        while true {
            let head = try raw.read(count: 2)
            guard head.count == 2 else { throw TestFailure("closed; got \(String(decoding: text.suffix(200), as: UTF8.self).debugDescription)") }
            var length = Int(head[1] & 0x7F)
            if length >= 126 {
                let bytes = try raw.read(count: length == 126 ? 2 : 8)
                length = bytes.reduce(0) { $0 << 8 | Int($1) }
            }
            let payload = try raw.read(count: length)
            guard payload.count == length else { throw TestFailure("closed in a frame") }
            guard head[0] & 0x0F == 0x1 else { continue }
            text += payload
            if payload.firstRange(of: marker) != nil { return text }
        }
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

    /// Every number from 1 to `last` once, in order, one per line (a line may begin with the prompt).
    private static func expectEveryNumber(in text: String, upTo last: Int) {
        let numbers = text.split(whereSeparator: \.isNewline).compactMap { Int($0.replacingOccurrences(of: "$ ", with: "")) }
        let inOrder = numbers.elementsEqual(1...last)
        #expect(inOrder, "every number once, in order: \(numbers.count) numbers, first wrong at \(String(describing: zip(numbers, 1...).first { $0 != $1 }))")
    }

    /// The eight small pieces, then every number of the burst once, in order.
    private static func expectEveryPieceInOrder(_ text: String) {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.replacingOccurrences(of: "$ ", with: "") }
        #expect(lines.filter { $0.count == 2 && $0.hasPrefix("s") } == (1...8).map { "s\($0)" })
        expectEveryNumber(in: text, upTo: 20000)
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
