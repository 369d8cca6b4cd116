import NIOCore
import NIOEmbedded
import NIOWebSocket
import Synchronization
import Testing

@testable import SwitchboardHummingbird

/// The watch's writer of frames at once (``WebSocketWatch/DirectWriter``), in a pipeline of its own: it
/// writes while the connection can take more, refuses beyond its bound, and writes nothing after a close.
/// Messages sent together leave with one flush at the run's end, and never wait beyond it.
@Suite struct WebSocketWatchTests {
    /// A connected channel with a frame decoder and the watch after it, as an upgraded connection has them.
    static func watchedChannel() throws -> (EmbeddedChannel, WebSocketWatch.DirectWriter) {
        let channel = EmbeddedChannel()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(WebSocketFrameDecoder()))
        let (writer, _) = try WebSocketWatch.install(
            on: channel, state: WebSocketWatch.CloseState(), pings: nil, queueingInput: false
        ) {}
        return (channel, writer)
    }

    @Test func messagesSentTogetherLeaveWithOneFlushAtTheRunsEnd() throws {
        let (channel, writer) = try Self.watchedChannel()
        func text(_ string: String) -> WebSocketFrame { WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: string)) }
        // As Hummingbird's writer does: a write and a flush for each frame (not waiting for the write).
        func send(_ string: String) { channel.writeAndFlush(text(string), promise: nil) }
        func flushed() throws -> [String] {
            var texts: [String] = []
            while let frame = try channel.readOutbound(as: WebSocketFrame.self) { texts.append(String(buffer: frame.unmaskedData)) }
            return texts
        }

        // Outside a run, every flush passes at once (as Hummingbird's writer makes them: one per frame).
        send("alone")
        #expect(try flushed() == ["alone"])

        // In a run: written, held back, and flushed once when the run's end reaches the event loop.
        writer.beginSendingTogether()
        send("200: OK")
        send("[entities]")
        send("? /x")
        #expect(try flushed() == [], "held while the run lasts")
        writer.endSendingTogether()
        #expect(try flushed() == [], "the end comes after the run's frames, on the event loop")
        channel.embeddedEventLoop.run()
        #expect(try flushed() == ["200: OK", "[entities]", "? /x"])

        // Nothing is held while the channel cannot write: the writer would wait for that flush.
        writer.beginSendingTogether()
        channel.isWritable = false
        send("full")
        #expect(try flushed() == ["full"])
        channel.isWritable = true
        writer.endSendingTogether()
        channel.embeddedEventLoop.run()

        // A frame written at once in a run is held with the others and leaves with them, in order.
        writer.beginSendingTogether()
        send("before")
        #expect(writer.writeText(ByteBuffer(string: "at once")))
        channel.embeddedEventLoop.run()
        #expect(try flushed() == [], "held while the run lasts")
        writer.endSendingTogether()
        channel.embeddedEventLoop.run()
        #expect(try flushed() == ["before", "at once"])

        // Outside a run, a frame written at once is flushed at once.
        #expect(writer.write(WebSocketFrame(fin: true, opcode: .binary, data: ByteBuffer(bytes: [0, 1, 2]))))
        channel.embeddedEventLoop.run()
        let binary = try #require(try channel.readOutbound(as: WebSocketFrame.self))
        #expect(binary.opcode == .binary && binary.fin && binary.unmaskedData == ByteBuffer(bytes: [0, 1, 2]))

        // A close in the middle of a run flushes first: nothing held is lost.
        writer.beginSendingTogether()
        send("last")
        #expect(try flushed() == [])
        channel.close(promise: nil)
        #expect(try flushed() == ["last"])
        writer.endSendingTogether()
        channel.embeddedEventLoop.run()
        #expect(try flushed() == [])
    }

    @Test func framesAtOnceAreBoundedAndNeverFollowAClose() throws {
        let (channel, writer) = try Self.watchedChannel()

        #expect(writer.writeText(ByteBuffer(string: "echo")))
        channel.embeddedEventLoop.run()
        let frame = try #require(try channel.readOutbound(as: WebSocketFrame.self))
        #expect(frame.opcode == .text && frame.fin && String(buffer: frame.unmaskedData) == "echo")

        // Handed over and not yet written (the event loop has not run): at most the bound.
        let half = ByteBuffer(repeating: UInt8(ascii: "a"), count: WebSocketWatch.DirectWriter.inFlightLimit / 2 + 1)
        #expect(writer.writeText(half))
        #expect(!writer.writeText(half), "over the bound: refused, for the caller's slower way")
        channel.embeddedEventLoop.run()
        #expect(try channel.readOutbound(as: WebSocketFrame.self)?.unmaskedData.readableBytes == half.readableBytes)
        #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil)
        #expect(writer.writeText(half), "written: room again")
        channel.embeddedEventLoop.run()
        _ = try channel.readOutbound(as: WebSocketFrame.self)

        // One frame over the bound is taken when nothing else is in flight (a PTY's gathered output), not two.
        let large = ByteBuffer(repeating: UInt8(ascii: "b"), count: WebSocketWatch.DirectWriter.inFlightLimit + 4095)
        #expect(writer.writeText(large))
        #expect(!writer.writeText(ByteBuffer(string: "c")), "anything more waits until it is written")
        channel.embeddedEventLoop.run()
        #expect(try channel.readOutbound(as: WebSocketFrame.self)?.unmaskedData.readableBytes == large.readableBytes)

        channel.isWritable = false
        #expect(!writer.writeText(ByteBuffer(string: "full")), "a connection that cannot write takes nothing at once")
        channel.isWritable = true

        var closing = ByteBuffer()
        closing.write(webSocketErrorCode: .normalClosure)
        try channel.writeOutbound(WebSocketFrame(fin: true, opcode: .connectionClose, data: closing))
        #expect(try channel.readOutbound(as: WebSocketFrame.self)?.opcode == .connectionClose)
        #expect(!writer.writeText(ByteBuffer(string: "late")), "refused after a close frame: the writer's way fails")
        channel.embeddedEventLoop.run()
        #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil, "nothing after the close frame")
        _ = try channel.finish()
    }

    /// A frame handed over before a close frame was written, and reaching the event loop after it, is dropped;
    /// a closed channel takes nothing.
    @Test func framesAtOnceAfterACloseAreDroppedOrRefused() throws {
        let (channel, writer) = try Self.watchedChannel()
        #expect(writer.writeText(ByteBuffer(string: "handed over")))
        var closing = ByteBuffer()
        closing.write(webSocketErrorCode: .normalClosure)
        try channel.writeOutbound(WebSocketFrame(fin: true, opcode: .connectionClose, data: closing))
        channel.embeddedEventLoop.run()
        #expect(try channel.readOutbound(as: WebSocketFrame.self)?.opcode == .connectionClose)
        #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil)
        _ = try channel.finish()
        #expect(!writer.writeText(ByteBuffer(string: "closed")))
    }

    /// A caller refused for want of room is called once when the channel can write again, or when it closes;
    /// never while the channel can write (it has room: nothing to wait for), nor after it closed.
    @Test func aCallerRefusedForWantOfRoomIsCalledWhenTheChannelCanWriteOrCloses() throws {
        let (channel, writer) = try Self.watchedChannel()
        let calls = Atomic<Int>(0)
        let resume: @Sendable () -> Void = { calls.add(1, ordering: .relaxed) }
        #expect(!writer.callWhenWritable(resume), "the channel can write: no wait")

        channel.isWritable = false
        #expect(!writer.writeText(ByteBuffer(string: "full")))
        #expect(writer.callWhenWritable(resume))
        channel.pipeline.fireChannelWritabilityChanged()
        #expect(calls.load(ordering: .relaxed) == 0, "still cannot write")
        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        #expect(calls.load(ordering: .relaxed) == 1)
        channel.pipeline.fireChannelWritabilityChanged()
        #expect(calls.load(ordering: .relaxed) == 1, "once")

        channel.isWritable = false
        #expect(writer.callWhenWritable(resume))
        #expect(writer.callWhenWritable(resume), "a second wait replaces the first, which is called on the next tick")
        channel.embeddedEventLoop.run()
        #expect(calls.load(ordering: .relaxed) == 2)
        _ = try channel.finish()
        #expect(calls.load(ordering: .relaxed) == 3, "the channel closed: who waits is called")
        #expect(!writer.callWhenWritable(resume), "closed: no wait")
    }

    // MARK: Input queued for the reader (connections without compression)

    /// Counts the reads of the socket that reach the front of the pipeline.
    final class ReadCounter: ChannelOutboundHandler {
        typealias OutboundIn = Any
        var reads = 0
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    /// A channel as ``watchedChannel()`` makes it, with the watch queueing input, and a counter of reads.
    static func queueingChannel() throws -> (EmbeddedChannel, InboundFrameQueue, ReadCounter) {
        let channel = EmbeddedChannel()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        let counter = ReadCounter()
        try channel.pipeline.syncOperations.addHandler(counter)
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(WebSocketFrameDecoder()))
        let (_, queue) = try WebSocketWatch.install(
            on: channel, state: WebSocketWatch.CloseState(), pings: nil, queueingInput: true
        ) {}
        return (channel, try #require(queue), counter)
    }

    /// The queue and the watch hold each other while the connection is open; once the channel is closed both
    /// are freed (a closed connection used to leave them behind, about 0.8 KB each).
    @Test func aClosedChannelLeavesNeitherTheQueueNorTheWatchBehind() throws {
        weak var weakQueue: InboundFrameQueue?
        weak var weakWatch: WebSocketWatch?
        try {
            let (channel, queue, _) = try Self.queueingChannel()
            weakQueue = queue
            weakWatch = try channel.pipeline.syncOperations.handler(type: WebSocketWatch.self)
            try channel.writeInbound(Self.clientFrame(.text, Array("hello".utf8)))
            _ = try channel.finish()
        }()
        #expect(weakQueue == nil)
        #expect(weakWatch == nil)
    }

    /// A frame as a client sends it: masked.
    static func clientFrame(_ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool = true) -> ByteBuffer {
        precondition(payload.count < 126)
        let mask: [UInt8] = [0x11, 0x22, 0x33, 0x44]
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | UInt8(webSocketOpcode: opcode), 0x80 | UInt8(payload.count)] + mask
        bytes += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        return ByteBuffer(bytes: bytes)
    }

    /// Data frames go to the queue unmasked, after the sentinel that follows whatever reached Hummingbird's
    /// stream first; pings are answered at once with their payload; a close frame goes on to Hummingbird's
    /// stream, with a mark in the queue; the reader parks only past the sentinel and while nothing is queued,
    /// and is woken once by what arrives.
    @Test func dataFramesAreQueuedPingsAnsweredAndTheReaderWoken() async throws {
        let (channel, queue, _) = try Self.queueingChannel()
        let sentinel = try #require(try channel.readInbound(as: WebSocketFrame.self))
        #expect(sentinel.opcode == .binary && sentinel.data == queue.sentinel && queue.sentinel.readableBytes == 16)
        #expect(queue.isSentinel(sentinel.data) && !queue.isSentinel(ByteBuffer(repeating: 0, count: 16)))
        #expect(!queue.parkUnlessReady {}, "not before the reader has passed the sentinel")
        queue.sentinelPassed()

        let woken = Atomic<Int>(0)
        #expect(queue.parkUnlessReady { woken.add(1, ordering: .relaxed) })
        try channel.writeInbound(Self.clientFrame(.text, Array("hel".utf8), fin: false))
        try channel.writeInbound(Self.clientFrame(.continuation, Array("lo".utf8)))
        #expect(woken.load(ordering: .relaxed) == 1, "woken once, by the first frame")
        #expect(try channel.readInbound(as: WebSocketFrame.self) == nil, "data frames stay out of Hummingbird's stream")
        #expect(!queue.parkUnlessReady {}, "frames are waiting")
        guard case .frame(let first) = await queue.take(), case .frame(let second) = await queue.take() else {
            Issue.record("two frames queued")
            return
        }
        #expect(first.opcode == .text && !first.fin && first.maskKey == nil && String(buffer: first.data) == "hel")
        #expect(second.opcode == .continuation && second.fin && String(buffer: second.data) == "lo")

        // A ping while the reader is parked with nothing queued: answered at once, on the event loop.
        #expect(queue.parkUnlessReady {})
        try channel.writeInbound(Self.clientFrame(.ping, [1, 2, 3]))
        let pong = try #require(try channel.readOutbound(as: WebSocketFrame.self))
        #expect(pong.opcode == .pong && pong.unmaskedData == ByteBuffer(bytes: [1, 2, 3]))
        #expect(try channel.readInbound(as: WebSocketFrame.self) == nil)

        // A ping behind input: answered in its turn, when the reader reaches it.
        try channel.writeInbound(Self.clientFrame(.text, Array("first".utf8)))
        try channel.writeInbound(Self.clientFrame(.ping, [9]))
        #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil, "not before the input ahead of it")
        guard case .frame = await queue.take(), case .ping(let payload) = await queue.take() else {
            Issue.record("the text, then the ping")
            return
        }
        queue.answerPing(payload)
        channel.embeddedEventLoop.run()
        #expect(try channel.readOutbound(as: WebSocketFrame.self)?.unmaskedData == ByteBuffer(bytes: [9]))

        try channel.writeInbound(Self.clientFrame(.connectionClose, [0x03, 0xE8]))
        #expect(try channel.readInbound(as: WebSocketFrame.self)?.opcode == .connectionClose, "Hummingbird answers the close")
        guard case .consultHummingbird = await queue.take() else {
            Issue.record("the close marked in the queue")
            return
        }
        try channel.writeInbound(Self.clientFrame(.ping, [4]))
        #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil, "no pong after the client's close")

        queue.readingEnded()
        try channel.writeInbound(Self.clientFrame(.text, Array("late".utf8)))
        #expect(try channel.readInbound(as: WebSocketFrame.self)?.opcode == .text, "after the reading, frames go Hummingbird's way")
        #expect(await queue.take() == nil)
        _ = try? channel.finish()
    }

    /// A frame with a reserved bit fails the connection: it is queued for the reader to refuse, and what
    /// follows goes Hummingbird's way, so a ping after it goes unanswered (Autobahn 3.2).
    @Test func aReservedBitFailsTheInputAndAPingAfterItGoesUnanswered() async throws {
        let (channel, queue, _) = try Self.queueingChannel()
        _ = try channel.readInbound(as: WebSocketFrame.self)
        queue.sentinelPassed()
        var bad = Self.clientFrame(.text, Array("x".utf8))
        bad.setInteger(bad.getInteger(at: 0, as: UInt8.self)! | 0x20, at: 0)  // RSV2
        try channel.writeInbound(bad)
        try channel.writeInbound(Self.clientFrame(.ping, [1]))
        guard case .frame(let frame) = await queue.take() else {
            Issue.record("the frame queued for the reader to refuse")
            return
        }
        #expect(frame.rsv2)
        #expect(try channel.readInbound(as: WebSocketFrame.self)?.opcode == .ping, "Hummingbird's way")
        #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil, "no pong")
        _ = try? channel.finish()
    }

    /// A client that sends pings and reads nothing gets no pongs piled up: while the channel cannot write

    /// A frame that fails the connection in Hummingbird's stream, read before the watch joined (behind the
    /// upgrade request): the watch starts as failed, so a ping read after it joins goes Hummingbird's way,
    /// which answers nothing once it has begun to close, rather than being answered by the reader, whose pong
    /// could beat Hummingbird's close frame to the socket (Autobahn 3.2 failed so once). A frame with RSV1
    /// fails it only without permessage-deflate. (`bits` are set in the first byte of a text frame: RSV2,
    /// RSV3, RSV1, opcode 3, which is reserved, and none.)
    @Test(arguments: [(0x20 as UInt8, false, true), (0x10, false, true), (0x40, false, true), (0x40, true, false), (0x02, false, true), (0x00, false, false)])
    func aFrameThatFailedInHummingbirdsStreamBeforeTheWatchLeavesLaterPingsUnanswered(
        bits: UInt8, compressedInput: Bool, fails: Bool
    ) throws {
        let channel = EmbeddedChannel()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        let operations = channel.pipeline.syncOperations
        let decoder = ByteToMessageHandler(WebSocketFrameDecoder())
        try operations.addHandler(decoder)
        try operations.addHandler(EarlyFrameGuard(), position: .after(decoder))
        var early = Self.clientFrame(.text, Array("x".utf8))
        early.setInteger(early.getInteger(at: 0, as: UInt8.self)! | bits, at: 0)
        try channel.writeInbound(early)
        #expect(try channel.readInbound(as: WebSocketFrame.self) != nil, "passed on to Hummingbird's stream")

        let (_, queue) = try WebSocketWatch.install(
            on: channel, state: WebSocketWatch.CloseState(), pings: nil, queueingInput: true, compressedInput: compressedInput
        ) {}
        let queued = try #require(queue)
        #expect((try? channel.pipeline.syncOperations.handler(type: EarlyFrameGuard.self)) == nil, "the guard left")
        _ = try channel.readInbound(as: WebSocketFrame.self)
        queued.sentinelPassed()
        #expect(queued.parkUnlessReady {})
        try channel.writeInbound(Self.clientFrame(.ping, [7]))
        if fails {
            #expect(try channel.readInbound(as: WebSocketFrame.self)?.opcode == .ping, "Hummingbird's way")
            #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil, "no pong")
        } else {
            #expect(try channel.readOutbound(as: WebSocketFrame.self)?.unmaskedData == ByteBuffer(bytes: [7]), "answered")
        }
        _ = try? channel.finish()
    }
    /// only the latest ping is kept, and it is answered once the channel can.
    @Test func pingsWhileTheChannelCannotWriteOweOnePong() async throws {
        let (channel, queue, _) = try Self.queueingChannel()
        _ = try channel.readInbound(as: WebSocketFrame.self)
        queue.sentinelPassed()
        #expect(queue.parkUnlessReady {})
        channel.isWritable = false
        for index in 0..<100 { try channel.writeInbound(Self.clientFrame(.ping, [UInt8(index)])) }
        #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil, "nothing written while it cannot write")
        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        let pong = try #require(try channel.readOutbound(as: WebSocketFrame.self))
        #expect(pong.opcode == .pong && pong.unmaskedData == ByteBuffer(bytes: [99]), "the latest ping's payload")
        #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil, "one pong, not a hundred")
        _ = try? channel.finish()
    }

    /// A full queue holds the socket's reads until the reader has taken it below half; the end of the reading
    /// lets them go too.
    @Test func aFullQueueHoldsTheSocketsReads() async throws {
        let (channel, queue, counter) = try Self.queueingChannel()
        _ = try channel.readInbound(as: WebSocketFrame.self)
        for index in 0..<InboundFrameQueue.pauseFrames {
            #expect(!queue.readsPaused, "room at frame \(index)")
            try channel.writeInbound(Self.clientFrame(.binary, [UInt8(index)]))
        }
        #expect(queue.readsPaused)
        let before = counter.reads
        channel.read()
        #expect(counter.reads == before, "held")
        for index in 0..<InboundFrameQueue.pauseFrames / 2 {
            guard case .frame(let frame) = await queue.take() else { return }
            #expect(frame.data == ByteBuffer(bytes: [UInt8(index)]))
        }
        channel.embeddedEventLoop.run()
        #expect(counter.reads == before, "still half full")
        _ = await queue.take()
        channel.embeddedEventLoop.run()
        #expect(counter.reads == before + 1, "the held read goes on below half")
        #expect(!queue.readsPaused)

        for index in 0..<InboundFrameQueue.pauseFrames { try channel.writeInbound(Self.clientFrame(.binary, [UInt8(index)])) }
        channel.read()
        #expect(counter.reads == before + 1)
        queue.readingEnded()
        channel.embeddedEventLoop.run()
        #expect(counter.reads == before + 2, "the end of the reading lets the held read go")
        _ = try? channel.finish()
    }

    /// One ``PingRound`` pings every watched connection of its event loop once per interval, the first time
    /// one interval after it joined, spread over the interval (one list of connections per tick); it closes
    /// those whose last ping went unanswered, lets connections leave from anywhere in its lists, and stops its
    /// timer once none is left.
    @Test func oneRoundPingsEveryConnectionOfItsLoopAndClosesTheSilentOnes() throws {
        let loop = EmbeddedEventLoop()
        let pings = try #require(PingRounds(interval: .seconds(1), slots: 2))  // a tick every half second
        let unanswered = Mutex<[Int]>([])
        var channels: [EmbeddedChannel] = []
        func connect(_ count: Int) throws {
            for _ in 0..<count {
                let index = channels.count
                let channel = EmbeddedChannel(loop: loop)
                try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(WebSocketFrameDecoder()))
                _ = try WebSocketWatch.install(on: channel, state: WebSocketWatch.CloseState(), pings: pings, queueingInput: false) {
                    unanswered.withLock { $0.append(index) }
                }
                channels.append(channel)
            }
        }
        func pinged() throws -> [Int] {
            try channels.indices.filter { index in
                var pinged = false
                while let frame = try channels[index].readOutbound(as: WebSocketFrame.self) { pinged = pinged || frame.opcode == .ping }
                return pinged
            }
        }
        func answer(_ indices: Int...) throws {
            for index in indices {
                try channels[index].writeInbound(ByteBuffer(bytes: [0x8A, 0x80, 0, 0, 0, 0]))  // a masked, empty pong
                while try channels[index].readInbound(as: WebSocketFrame.self) != nil {}
            }
        }
        let round = pings.round(on: loop)

        // 0, 1 and 2 join at 0 ms, 3, 4 and 5 at 500: each is first pinged one interval after it joined.
        try connect(3)
        loop.advanceTime(by: .milliseconds(500))
        #expect(try pinged() == [])
        try connect(3)
        loop.advanceTime(by: .milliseconds(499))
        #expect(try pinged() == [])
        loop.advanceTime(by: .milliseconds(1))
        #expect(try pinged() == [0, 1, 2])
        loop.advanceTime(by: .milliseconds(500))
        #expect(try pinged() == [3, 4, 5])

        // 1 stays silent; 4 leaves from the middle of its list. (Closed, not finished: an embedded channel's
        // finish runs off its loop's scheduled tasks, the round's too.)
        try answer(0, 2, 3, 5)
        try channels[4].close().wait()
        loop.advanceTime(by: .milliseconds(500))
        #expect(try pinged() == [0, 2])
        #expect(unanswered.withLock { $0 } == [1])
        loop.advanceTime(by: .milliseconds(500))
        #expect(try pinged() == [3, 5])

        // The silent one is out of the round; the others go on until they leave too.
        try answer(0, 2, 3, 5)
        loop.advanceTime(by: .seconds(1))
        #expect(try pinged() == [0, 2, 3, 5])
        #expect(unanswered.withLock { $0 } == [1])
        #expect(round.isTicking)
        for index in [0, 1, 2, 3, 5] { try channels[index].close().wait() }
        #expect(!round.isTicking)
        loop.advanceTime(by: .seconds(5))
        #expect(try pinged() == [])
    }
}
