import NIOCore
import NIOWebSocket
import Switchboard
import Synchronization

/// The receiving half of Switchboard's permessage-deflate (``PerMessageDeflate``): inflates the frames of
/// compressed messages with an inflater from ``Inflater/pool``, held from a message's first frame to its last,
/// after it has reserved what a frame can inflate to from the connection's ``InboundAccount``.
///
/// A compressed frame of `n` bytes inflates to at most about 1,032 × `n` bytes, and never to more than the
/// message limit; three times that is reserved before the frame is inflated (the output grows by doubling, and
/// for a moment holds the old buffer and the new), and what the frame did not need is given back right after;
/// the rest stays charged to the message until its terminal has handled it. So however many connections send
/// compressed input at once, the server never holds more inflated input than the API's budget. Inflating needs
/// no hop to another task (Hummingbird's inflater is an actor), so it also runs in the connection's reader, on
/// the frames the ``WebSocketWatch`` queues.
///
/// A connection has one receiver, its reader's (``InboundMessages``): the reader sets ``current`` while it
/// reads Hummingbird's stream, which inflates the frames of a connection's first moments through the
/// extension, so that a message begun there and continued in the watch's queue is inflated by one inflater.
final class DeflateReceiver: Sendable {
    /// The most a deflate stream can expand: 258 bytes from about 2 bits.
    static let maxDeflateRatio = 1_032

    /// The receiver of the connection whose reader is reading Hummingbird's stream in this task, if any.
    @TaskLocal static var current: DeflateReceiver?

    let maxInflatedFrameSize: Int
    private let receiving = Mutex(Receiving())

    private struct Receiving {
        /// Whether the message being received is compressed (its first frame had RSV1); continuation frames
        /// do not repeat the bit.
        var compressed = false
        /// The inflater of the compressed message being received, from its first frame to its last.
        var inflater: Inflater?
    }

    /// Why a frame could not be inflated: zlib could not make an inflater (the connection is closed with 1011).
    enum Failure: Error, CustomStringConvertible {
        case noMemory

        var description: String { "no memory to inflate a compressed message" }
    }

    init(maxInflatedFrameSize: Int) {
        self.maxInflatedFrameSize = maxInflatedFrameSize
    }

    /// Thrown by ``inflateIfCompressed(_:atMost:)`` for a whole compressed message that inflates to more than
    /// the size it was given: the receiver is as it was before the frame, which can be inflated again.
    struct InflatesPastSize: Error {}

    /// The frame with its payload inflated when it belongs to a compressed message (its message's first frame
    /// had RSV1), else the frame as it is.
    ///
    /// `atMost`, for a whole message (one frame, FIN set) only: the most it may inflate to here. A reader on
    /// the event loop inflates there only that much; past it, the receiver drops what it made and is as it
    /// was, so the reader can inflate the frame again on the concurrency pool (each message is a stream of
    /// its own: `client_no_context_takeover`).
    /// - Throws: `NIOWebSocketError.invalidFrameLength` past ``maxInflatedFrameSize``, ``InflatesPastSize`` past
    ///   `atMost`, ``Inflater/Failure`` for data that is not DEFLATE, ``InboundMemoryExhausted`` when the budget
    ///   had no room in time (the connection has then been closed with 1013), ``Failure/noMemory``.
    func inflateIfCompressed(_ frame: WebSocketFrame, atMost size: Int? = nil) async throws -> WebSocketFrame {
        precondition(size == nil || (frame.fin && frame.opcode != .continuation), "only a whole message can be inflated again")
        let maxSize = min(size ?? maxInflatedFrameSize, maxInflatedFrameSize)
        let compressed = receiving.withLock { receiving -> Bool in
            switch frame.opcode {
            case .text, .binary:
                // A message's first frame while a compressed message is still open: the reader refuses it (it
                // is out of turn), or it is the watch's sentinel, which marks where the queue takes over in the
                // middle of that message. Either way the open message keeps its state.
                guard !receiving.compressed else { return false }
                receiving.compressed = frame.fin ? false : frame.rsv1
                return frame.rsv1
            case .continuation:
                defer { if frame.fin { receiving.compressed = false } }
                return receiving.compressed
            default:
                return false
            }
        }
        guard compressed else { return frame }
        let account = InboundAccount.current
        let reservation = Self.reservation(forCompressed: frame.data.readableBytes, maxInflatedFrameSize: maxSize)
        try await account?.reserve(reservation)
        do {
            var inflated = frame
            let payload = frame.unmaskedData
            inflated.data = try receiving.withLock { receiving in
                guard let inflater = receiving.inflater ?? Inflater.pool.take(orMake: { Inflater() }) else { throw Failure.noMemory }
                // Held until the message's last frame; dropped, not given back, when inflating fails (but for
                // a message past `atMost`, which is fine DEFLATE as far as it went).
                receiving.inflater = nil
                let output: ByteBuffer
                do {
                    output = try inflater.inflate(payload, endOfMessage: frame.fin, maxSize: maxSize, allocator: ByteBufferAllocator())
                } catch NIOWebSocketError.invalidFrameLength where maxSize < maxInflatedFrameSize {
                    Inflater.pool.giveBack(inflater)
                    throw InflatesPastSize()
                }
                if frame.fin {
                    Inflater.pool.giveBack(inflater)
                } else {
                    receiving.inflater = inflater
                }
                return output
            }
            inflated.maskKey = nil
            account?.giveBack(reservation - inflated.data.readableBytes)
            return inflated
        } catch {
            account?.giveBack(reservation)
            throw error
        }
    }

    /// What inflating a compressed frame of `length` bytes can take at most, the growing of its buffer included.
    static func reservation(forCompressed length: Int, maxInflatedFrameSize: Int) -> Int {
        let (expanded, overflow) = (length + 4).multipliedReportingOverflow(by: maxDeflateRatio)
        return 3 * min(overflow ? maxInflatedFrameSize : expanded, maxInflatedFrameSize)
    }
}
