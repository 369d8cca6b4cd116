import Foundation
import NIOCore
import NIOEmbedded
import NIOPosix
import Synchronization
import SwitchboardTesting
import Testing

@testable import SwitchboardPTY

/// The pieces of a PTY's output path as values: cutting output at characters, the replay, and an outbox that
/// sends what piles up as one message.
@Suite struct PTYOutputPathTests {
    @Test func asciiPassesThroughAndASplitCharacterWaitsForTheRestOfIt() {
        var chunker = UTF8Chunker()
        #expect(String(buffer: chunker.chunk(ByteBuffer(string: "plain ascii"))) == "plain ascii")
        let euro = Array("€".utf8)  // E2 82 AC
        let first = chunker.chunk(ByteBuffer(bytes: Array("a".utf8) + euro.prefix(2)))
        #expect(String(buffer: first) == "a", "the two bytes of € that came wait")
        #expect(chunker.chunk(ByteBuffer(bytes: [])).readableBytes == 0)
        #expect(String(buffer: chunker.chunk(ByteBuffer(bytes: [euro[2]] + Array("b".utf8)))) == "€b")
        let emoji = Array("😀".utf8)
        for byte in emoji.dropLast() { #expect(chunker.chunk(ByteBuffer(bytes: [byte])).readableBytes == 0) }
        #expect(String(buffer: chunker.chunk(ByteBuffer(bytes: [emoji[3]]))) == "😀")
    }

    @Test func invalidBytesBecomeReplacementCharacters() {
        var chunker = UTF8Chunker()
        let text = String(buffer: chunker.chunk(ByteBuffer(bytes: [0x61, 0xFF, 0x62, 0xC3, 0x28])))
        #expect(text == "a\u{FFFD}b\u{FFFD}(")
        #expect(String(validating: Array(text.utf8), as: UTF8.self) != nil)
    }

    @Test func theReplayKeepsTheLastBytesFromACharacterAndStaysBounded() {
        var replay = ReplayBuffer(limit: 10)
        for _ in 0..<10_000 { replay.append(ByteBuffer(string: "0123456789abc")) }
        #expect(String(buffer: replay.contents) == "3456789abc")
        #expect(replay.heldBytes <= 20, "at most twice the limit is held, however many chunks came")
        var accented = ReplayBuffer(limit: 4)
        accented.append(ByteBuffer(string: "xé€"))  // 78 C3 A9 E2 82 AC: the last 4 bytes start inside é
        #expect(String(buffer: accented.contents) == "€", "never the middle of a character")
        var none = ReplayBuffer(limit: 0)
        none.append(ByteBuffer(string: "anything"))
        #expect(none.contents.readableBytes == 0)
    }

    @Test func fullReadsWaitForTheNextReadAndLeaveTogether() throws {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(handler: PTYReadGatherer(), loop: loop)
        let full = ByteBuffer(repeating: UInt8(ascii: "a"), count: PTYReadGatherer.fullRead)
        for _ in 0..<3 {
            try channel.writeInbound(full)
            #expect(try channel.readInbound(as: ByteBuffer.self) == nil, "a full read means more is coming: held")
        }
        try channel.writeInbound(ByteBuffer(string: "end\n"))
        let joined = try #require(try channel.readInbound(as: ByteBuffer.self))
        #expect(joined.readableBytes == 3 * PTYReadGatherer.fullRead + 4)
        #expect(joined.getString(at: joined.readerIndex + joined.readableBytes - 4, length: 4) == "end\n")
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil, "one message for the four reads")

        try channel.writeInbound(ByteBuffer(string: "x"))
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(string: "x"), "a small read is never held")
        let small = ByteBuffer(repeating: UInt8(ascii: "s"), count: PTYReadGatherer.bulkRead - 1)
        try channel.writeInbound(small)
        #expect(try channel.readInbound(as: ByteBuffer.self) == small, "an echo or a prompt is never held")
        let bulk = ByteBuffer(repeating: UInt8(ascii: "m"), count: PTYReadGatherer.bulkRead)
        try channel.writeInbound(bulk)
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil, "a bulk read that is not full is held too")
        try channel.writeInbound(small)
        #expect(try channel.readInbound(as: ByteBuffer.self)?.readableBytes == bulk.readableBytes + small.readableBytes)
        #expect(try channel.finish().isClean)
    }

    @Test func aHeldReadLeavesWhenNoReadFollowsOrTheLimitIsReached() throws {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(handler: PTYReadGatherer(), loop: loop)
        let full = ByteBuffer(repeating: UInt8(ascii: "b"), count: PTYReadGatherer.fullRead)
        try channel.writeInbound(full)
        loop.advanceTime(by: PTYReadGatherer.holdLimit - .microseconds(1))
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        loop.advanceTime(by: .microseconds(1))
        #expect(try channel.readInbound(as: ByteBuffer.self) == full, "output that ends on a full read waits no longer than the hold limit")

        var reads = 0
        while try channel.readInbound(as: ByteBuffer.self) == nil {
            try channel.writeInbound(full)
            reads += 1
            try #require(reads < 1_000)
        }
        #expect(reads == (PTYReadGatherer.gatherLimit + PTYReadGatherer.fullRead - 1) / PTYReadGatherer.fullRead)

        try channel.writeInbound(full)
        channel.pipeline.fireChannelInactive()
        #expect(try channel.readInbound(as: ByteBuffer.self) == full, "what is held goes on before the end")
        _ = try? channel.finish()
    }

    /// Given its own descriptor, the gatherer reads on by itself after a full read: what the descriptor has
    /// ready leaves with that read as one message, without NIO reading again; a read with nothing ready holds
    /// the bytes as a full read does, a read that is not full or the end passes them on at once, and the
    /// descriptor is closed when the handler leaves. (A pipe stands in for the PTY's master: it has all its
    /// bytes ready at once, where a PTY refills its 4 KiB between reads.)
    @Test func aFullReadReadsOnFromTheGatherersOwnDescriptor() throws {
        let full = ByteBuffer(repeating: UInt8(ascii: "a"), count: PTYReadGatherer.fullRead)
        let (reading, writing) = try Self.pipeEnds()
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(handler: PTYReadGatherer(readingOnFrom: reading), loop: loop)
        #expect(fcntl(reading, F_GETFL) & O_NONBLOCK != 0, "the gatherer never blocks its event loop")

        let ready = [UInt8](repeating: UInt8(ascii: "b"), count: 10_000)
        #expect(write(writing, ready, ready.count) == ready.count)
        try channel.writeInbound(full)
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil, "all of it read, more may come: held")
        loop.advanceTime(by: PTYReadGatherer.holdLimit)
        var joined = try #require(try channel.readInbound(as: ByteBuffer.self))
        #expect(joined.readableBytes == PTYReadGatherer.fullRead + ready.count)
        #expect(joined.readBytes(length: PTYReadGatherer.fullRead) == Array(full.readableBytesView))
        #expect(joined.readBytes(length: ready.count) == ready, "NIO's read first, then what the gatherer read")

        #expect(write(writing, "tail", 4) == 4)
        try channel.writeInbound(full)
        let passed = try #require(try channel.readInbound(as: ByteBuffer.self), "a read that is not bulk passes it on")
        #expect(passed.readableBytes == PTYReadGatherer.fullRead + 4)
        _ = try channel.finish()
        var writer = pollfd(fd: writing, events: Int16(POLLOUT), revents: 0)
        #expect(poll(&writer, 1, 0) == 1 && writer.revents & Int16(POLLERR) != 0, "closed when the handler leaves")
        close(writing)

        let (ending, written) = try Self.pipeEnds()
        close(written)
        let endChannel = EmbeddedChannel(handler: PTYReadGatherer(readingOnFrom: ending), loop: loop)
        try endChannel.writeInbound(full)
        #expect(try endChannel.readInbound(as: ByteBuffer.self) == full, "the end passes it on at once")
        _ = try endChannel.finish()
    }

    private static func pipeEnds() throws -> (reading: Int32, writing: Int32) {
        var ends: [Int32] = [-1, -1]
        try #require(pipe(&ends) == 0)
        return (ends[0], ends[1])
    }

    /// The recording's JSON strings, escaped eight bytes at a time, read back as the text they were made
    /// of, wherever the bytes to escape fall (every control character, quotes, backslashes, multi-byte
    /// characters, at every offset of a word).
    @Test func recordedOutputIsEscapedToJSONThatReadsBackAsTheOutput() throws {
        let pieces = (0..<0x20).map { String(UnicodeScalar(UInt8($0))) } + ["\"", "\\", "a", "é", "€", "😀", "/", "\u{7F}", " "]
        var generator = SystemRandomNumberGenerator()
        // Every position in a 16-byte block, in the 8-byte word after it and in the bytes after that.
        var texts = pieces.flatMap { piece in (0..<40).map { String(repeating: "x", count: $0) + piece + "tail" } }
        for _ in 0..<300 {
            texts.append((0..<Int.random(in: 0..<60, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined())
        }
        texts.append(String(repeating: "plain text without anything to escape ", count: 100))
        // Every byte an escape, far beyond the room the line is given beyond the text.
        texts += [String(repeating: "\u{1B}", count: 50_000), String(repeating: "\r\n", count: 30_000)]
        for text in texts {
            var line: [UInt8] = [UInt8(ascii: "\"")]
            Array(text.utf8).withUnsafeBytes { SessionRecorder.appendEscaped($0, to: &line) }
            line.append(UInt8(ascii: "\""))
            let decoded = try JSONDecoder().decode(String.self, from: Data(line))
            #expect(decoded == text, "\(text.debugDescription) came back as \(decoded.debugDescription)")
            #expect(!line.contains(where: { $0 < 0x20 || $0 == 0x7F }), "no raw control character in the JSON")
        }
    }

    @Test func outputThatPilesUpLeavesAsOneMessageAndNoticesKeepTheirPlace() async throws {
        let sent = Mutex<[String]>([])
        let firstTaken = BoundedQueueSignal()
        let release = BoundedQueueSignal()
        let outbox = ClientOutbox(
            deliver: { output in
                let text: String
                switch output {
                case .output(let bytes): text = String(buffer: bytes)
                case .notice(let notice): text = "[\(notice)]"
                case .verbatim(let verbatim): text = verbatim
                }
                let isFirst = sent.withLock { sent in
                    sent.append(text)
                    return sent.count == 1
                }
                if isFirst {
                    firstTaken.signal()
                    await release.wait()
                }
            }, report: { _ in })
        outbox.enqueue(.output(ByteBuffer(string: "first")))
        await firstTaken.wait()  // the sender is busy with "first": the rest piles up
        for part in ["a", "b", "c"] { outbox.enqueue(.output(ByteBuffer(string: part))) }
        outbox.enqueue(.notice("bob joined"))
        outbox.enqueue(.output(ByteBuffer(string: "d")))
        #expect(outbox.pending == "first".count + 3 + "bob joined".count + 1)
        release.signal()
        await outbox.sendRemainingAndStop()
        #expect(sent.withLock { $0 } == ["first", "abc", "[bob joined]", "d"])
        #expect(outbox.pending == 0)
    }
}

/// A one-shot signal for the outbox test.
final class BoundedQueueSignal: Sendable {
    private let state = Mutex<(signalled: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.signalled = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                if state.signalled { return true }
                state.waiter = continuation
                return false
            }
            if now { continuation.resume() }
        }
    }
}

/// A session's first input can come before its reader has taken the PTY's channel (a client that types the
/// moment the terminal opens): it waits for the reader instead of failing with "The program has ended".
@Suite(.timeLimit(.minutes(1))) struct PTYSessionStartTests {
    @Test func inputWrittenBeforeTheReaderStartsReachesTheProgram() async throws {
        let program = PTYProgram("/bin/sh", environment: ["PS1": "$ "])
        let terminal = try await PseudoTerminal.spawn(program, rows: 24, cols: 80, group: MultiThreadedEventLoopGroup.singleton)
        let session = PTYSession(
            name: nil, owner: "test", terminal: terminal, rows: 24, cols: 80, replayLimit: 0, replaysToLateClients: false,
            idleTimeout: nil)
        let output = Mailbox<String>()
        let client = PTYSession.Client(
            who: "test", identity: "test",
            deliver: { item in if case .output(let bytes) = item { output.deliver(String(buffer: bytes)) } },
            exited: { _ in }, evicted: { _ in }, size: (24, 80), readOnly: false)
        let id = await session.attach(client, first: nil)
        // Written before `start`: the reader that takes the channel's writer is not running yet.
        let written = Task { try await session.write(ByteBuffer(string: "echo D$((40+2))UP\n"), from: id) }
        // The write has come and waits (before the fix it failed at once, and this never ended).
        while await session.inputsWaitingForTheReader == 0 {
            await Task.yield()
        }
        await session.start {}
        try await written.value
        var text = ""
        while !text.contains("D42UP") {
            guard let part = await output.receive() else { break }
            text += part
        }
        #expect(text.contains("D42UP"))
        await session.kill(grace: .milliseconds(200))
    }
}
