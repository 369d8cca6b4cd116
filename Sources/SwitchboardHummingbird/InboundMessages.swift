import HummingbirdWebSocket
import NIOCore
import NIOWebSocket
import Switchboard
import SwitchboardCore
import Synchronization

/// The client's messages, whole, as Switchboard messages, assembled from the frames of a Hummingbird WebSocket.
///
/// Hummingbird answers pings and close frames as it reads (`WebSocketInboundStream`); this joins the data
/// frames into messages itself, rather than through Hummingbird's `messages(maxSize:)`:
/// - **Fail fast on invalid UTF-8.** Each fragment of a text message is checked as it arrives
///   (``UTF8StreamValidator``), so a message that turns invalid in its second fragment closes the connection
///   with 1007 then, not after its last fragment (RFC 6455 §8.1).
/// - **Every message is held to `maxSize` after decompression**, whole or in fragments, and fragments before
///   they are joined: the frame decoder's limit applies to a frame as sent, not to what it inflates to.
/// - **Less memory per idle connection.** An idle connection's reader waits in here for its life, and a Swift
///   task keeps the deepest stack it has had: `messages(maxSize:)` puts two async frames of its own above the
///   frame iterator's (1.1 KiB of task-allocator slabs per idle connection, measured with `heaptrack`), and
///   makes an array for the fragments of every message, one fragment or many.
///
/// A protocol error closes the connection with its code (1002 for a frame out of turn, 1007 for invalid UTF-8,
/// 1009 for a message over the limit), and the sequence ends.
///
/// The data frames come from the watch's ``InboundFrameQueue`` (after those that reached Hummingbird's stream
/// first), and the reader may park between messages (``parking``); with permessage-deflate, the `receiver`
/// inflates the queued frames of compressed messages (Hummingbird's stream inflated the ones before).
struct InboundMessages: AsyncSequence, Sendable, ParkableInbound {
    typealias Element = TerminalMessage
    let frames: WebSocketInboundStream
    let queue: InboundFrameQueue?
    let receiver: DeflateReceiver?
    let maxSize: Int
    let outbound: WebSocketOutboundWriter

    var parking: (any InboundParking)? { queue }

    /// A data frame, from Hummingbird's stream or the queue.
    struct Frame {
        let opcode: WebSocketDataFrame.Opcode
        let fin: Bool
        let data: ByteBuffer
        /// Set for a frame from the queue with a reserved bit set: no extension is in use to give it meaning.
        var reservedBitsSet = false

        init(_ frame: WebSocketDataFrame) {
            opcode = frame.opcode
            fin = frame.fin
            data = frame.data
        }

        /// A frame the watch queued: text, binary or continuation; `data` is its payload, inflated when it was
        /// compressed, which its RSV1 may say only with permessage-deflate and only on a message's first frame.
        init(_ frame: WebSocketFrame, data: ByteBuffer, compression: Bool) {
            opcode = frame.opcode == .text ? .text : frame.opcode == .binary ? .binary : .continuation
            fin = frame.fin
            self.data = data
            reservedBitsSet = frame.rsv2 || frame.rsv3 || (frame.rsv1 && (!compression || frame.opcode == .continuation))
        }
    }

    /// How many messages readers on an event loop have read on the concurrency pool instead, in this process
    /// (for tests: nothing a terminal sees says where its message was read).
    static let messagesReadOffTheEventLoop = Atomic<Int>(0)

    /// Thrown by ``Frames/next(betweenMessages:)`` on the event loop, for a message that is not read there
    /// (``Frames/isReadOnTheEventLoop(_:)``); its first frame is kept for the next call, on the concurrency pool.
    struct ReadOffTheEventLoop: Error {}

    /// Why a frame from the queue fails the connection: the code and reason of its close.
    struct Refusal: Error {
        let code: WebSocketErrorCode
        let reason: String
    }

    /// The data frames: Hummingbird's stream up to the queue's sentinel, then the queue (or Hummingbird's stream
    /// alone, without a queue).
    struct Frames {
        var hummingbird: WebSocketInboundStream.AsyncIterator
        let queue: InboundFrameQueue?
        let receiver: DeflateReceiver?
        var readsQueue = false
        /// The first frame of a message that was not read on the event loop (``ReadOffTheEventLoop``).
        var setAside: WebSocketFrame?

        /// Whether a reader on the event loop (that of a quick terminal, ``QuickInputTerminal``) reads the
        /// message that begins with `frame` there: only one whole frame of text or binary, of at most
        /// ``QuickInput/largestMessage`` bytes, or compressed to at most that and then inflated there only up
        /// to it (`nil`: try). Anything else (a paste in fragments, a message that may inflate to the message
        /// limit, a frame out of turn) is read on the concurrency pool: joining, inflating and checking it
        /// costs in proportion to its size, and would hold up that loop's other connections.
        static func isReadOnTheEventLoop(_ frame: WebSocketFrame) -> Bool? {
            guard frame.fin, frame.opcode == .text || frame.opcode == .binary, !frame.rsv2, !frame.rsv3,
                frame.data.readableBytes <= QuickInput.largestMessage
            else { return false }
            return frame.rsv1 ? nil : true
        }

        /// The next frame; between messages (`betweenMessages`), right after the sentinel, it throws
        /// ``InboundReaderMayPark`` rather than wait for the queue, and on the event loop it throws
        /// ``ReadOffTheEventLoop`` for a message that is not read there.
        mutating func next(betweenMessages: Bool = false) async throws -> Frame? {
            guard let queue else { return try await nextOfHummingbird().map(Frame.init) }
            if !readsQueue {
                guard let frame = try await nextOfHummingbird() else { return nil }
                guard frame.opcode == .binary, frame.fin, queue.isSentinel(frame.data) else { return Frame(frame) }
                readsQueue = true
                queue.sentinelPassed()
                if betweenMessages { throw InboundReaderMayPark() }
            }
            if let frame = setAside {
                setAside = nil
                return try await inflated(frame)
            }
            while true {
                switch await queue.take() {
                case .frame(let frame):
                    let readHere = betweenMessages ? Self.isReadOnTheEventLoop(frame) : true
                    guard readHere != true, queue.runsOnItsEventLoop else { return try await inflated(frame) }
                    if readHere == nil, receiver != nil {
                        do {
                            return try await inflated(frame, atMost: QuickInput.largestMessage)
                        } catch is DeflateReceiver.InflatesPastSize {}
                    }
                    setAside = frame
                    throw ReadOffTheEventLoop()
                case .ping(let payload): queue.answerPing(payload)
                case .consultHummingbird: return try await nextOfHummingbird().map(Frame.init)
                case .unmaskedFrame: throw Refusal(code: .protocolError, reason: "A frame from the client without a mask")
                case nil: return nil
                }
            }
        }

        /// The next frame of Hummingbird's stream, whose permessage-deflate inflates with this connection's
        /// receiver (``DeflateReceiver/current``): a compressed message begun there may go on in the queue.
        private mutating func nextOfHummingbird() async throws -> WebSocketDataFrame? {
            guard let receiver else { return try await hummingbird.next() }
            var iterator = hummingbird
            defer { hummingbird = iterator }
            return try await DeflateReceiver.$current.withValue(receiver) { try await iterator.next() }
        }

        /// A queued frame, inflated by the receiver when its message is compressed (to at most `size`,
        /// ``DeflateReceiver/inflateIfCompressed(_:atMost:)``).
        private func inflated(_ frame: WebSocketFrame, atMost size: Int? = nil) async throws -> Frame {
            guard let receiver, !(frame.rsv2 || frame.rsv3), !(frame.rsv1 && frame.opcode == .continuation) else {
                return Frame(frame, data: frame.data, compression: receiver != nil)
            }
            do {
                return Frame(frame, data: try await receiver.inflateIfCompressed(frame, atMost: size).data, compression: true)
            } catch NIOWebSocketError.invalidFrameLength {
                throw Refusal(code: .messageTooLarge, reason: "A compressed frame inflates to more than the limit of \(receiver.maxInflatedFrameSize) bytes")
            } catch is Inflater.Failure {
                throw Refusal(code: .protocolError, reason: "A compressed frame that is not DEFLATE data")
            }
        }
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var frames: Frames
        let maxSize: Int
        let outbound: WebSocketOutboundWriter

        mutating func next() async throws -> TerminalMessage? {
            do {
                do {
                    return try await nextMessage()
                } catch is ReadOffTheEventLoop {
                    InboundMessages.messagesReadOffTheEventLoop.add(1, ordering: .relaxed)
                    // The task still prefers the event loop: it goes back there at its next wait (the dispatcher
                    // hands a large message's handling to the pool again).
                    return try await withTaskExecutorPreference(globalConcurrentExecutor) { try await nextMessage() }
                }
            } catch let refusal as Refusal {
                return await refuse(refusal.code, reason: refusal.reason)
            }
        }

        private mutating func nextMessage() async throws -> TerminalMessage? {
            guard let frame = try await frames.next(betweenMessages: true) else { return nil }
            if frame.reservedBitsSet { return await refuse(.protocolError, reason: "A reserved bit set with no extension in use") }
            guard frame.fin, frame.opcode != .continuation else { return try await assemble(startingWith: frame) }
            guard frame.data.readableBytes <= maxSize else { return await refuse(tooLarge: frame.data.readableBytes) }
            guard frame.opcode == .text else { return .binary(frame.data) }
            guard let text = frame.data.withUnsafeReadableBytes({ String(validatingUTF8: $0) }) else {
                return await refuse(.dataInconsistentWithMessage, reason: "Invalid UTF-8 in a text message")
            }
            return .text(text)
        }

        /// A message in fragments: the first frame, then continuation frames up to the one with FIN.
        private mutating func assemble(startingWith first: Frame) async throws -> TerminalMessage? {
            guard first.opcode != .continuation else {
                return await refuse(.protocolError, reason: "A continuation frame without a message to continue")
            }
            guard first.data.readableBytes <= maxSize else { return await refuse(tooLarge: first.data.readableBytes) }
            let isText = first.opcode == .text
            var validator = UTF8StreamValidator()
            var message = first.data
            var frame = first
            while true {
                if isText, !validator.accept(frame.data.readableBytesView) {
                    return await refuse(.dataInconsistentWithMessage, reason: "Invalid UTF-8 in a text message")
                }
                if frame.fin { break }
                guard let next = try await frames.next() else { return nil }
                if next.reservedBitsSet { return await refuse(.protocolError, reason: "A reserved bit set with no extension in use") }
                guard next.opcode == .continuation else {
                    return await refuse(.protocolError, reason: "A new message before the last one's final fragment")
                }
                guard message.readableBytes + next.data.readableBytes <= maxSize else {
                    return await refuse(tooLarge: message.readableBytes + next.data.readableBytes)
                }
                frame = next
                var data = next.data
                message.writeBuffer(&data)
            }
            guard isText else { return .binary(message) }
            guard validator.endsOnCharacterBoundary else {
                return await refuse(.dataInconsistentWithMessage, reason: "Invalid UTF-8 in a text message")
            }
            return .text(String(decoding: message.readableBytesView, as: UTF8.self))
        }

        private func refuse(tooLarge size: Int) async -> TerminalMessage? {
            await refuse(.messageTooLarge, reason: "Message of \(size) bytes exceeds the limit of \(maxSize)")
        }

        /// Closes the connection with `code`, and ends the messages.
        private func refuse(_ code: WebSocketErrorCode, reason: String) async -> TerminalMessage? {
            try? await outbound.close(code, reason: reason)
            return nil
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(
            frames: Frames(hummingbird: frames.makeAsyncIterator(), queue: queue, receiver: receiver), maxSize: maxSize, outbound: outbound)
    }
}
