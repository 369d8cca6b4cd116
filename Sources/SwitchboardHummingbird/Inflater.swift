import CSwitchboardZlib
import NIOCore
import NIOWebSocket

/// A raw-DEFLATE inflater (the system's zlib) for the compressed messages a client sends with
/// permessage-deflate, with a 32 KiB window: enough for any window a client may compress with.
///
/// Switchboard has clients compress every message as a stream of its own (`client_no_context_takeover`), so
/// a connection holds an inflater (7 KiB, and its 32 KiB window once used) only while a compressed message
/// arrives: one is taken from ``pool`` at the message's first frame and given back after its last. Like a
/// ``Deflater``, it is used by one holder at a time (`@unchecked Sendable`).
final class Inflater: @unchecked Sendable {
    private let stream: OpaquePointer

    /// Why inflating failed.
    enum Failure: Error, CustomStringConvertible {
        /// The data is not DEFLATE (or asks for a dictionary).
        case notDeflate

        var description: String { "the compressed frame is not valid DEFLATE data" }
    }

    /// `nil` when zlib cannot make one (no memory).
    init?() {
        guard let stream = sb_inflater_create(15) else { return nil }
        self.stream = stream
    }

    deinit { sb_inflater_free(stream) }

    /// A frame's payload inflated: with `endOfMessage`, followed by the four bytes `00 00 ff ff` the sender
    /// left out (RFC 7692, section 7.2.2). What follows the end of the sender's stream (a block with BFINAL
    /// set, which a sender may use to end a message) is ignored.
    ///
    /// The output grows by doubling from four times the input, up to `maxSize`: it never holds more than twice
    /// what the frame inflates to, nor more than twice `maxSize`.
    /// - Throws: `NIOWebSocketError.invalidFrameLength` when the frame inflates to more than `maxSize` bytes
    ///   (the connection is closed with 1009), ``Failure/notDeflate`` for data that is not DEFLATE.
    func inflate(_ payload: ByteBuffer, endOfMessage: Bool, maxSize: Int, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        var output = allocator.buffer(capacity: min(maxSize + 1, max(4 * payload.readableBytes, 256)))
        let ended = try payload.withUnsafeReadableBytes { try run($0, into: &output, maxSize: maxSize) }
        if endOfMessage && !ended {
            _ = try Self.messageTail.withUnsafeBytes { try run($0, into: &output, maxSize: maxSize) }
        }
        return output
    }

    /// Starts a new stream, keeping the memory; `false` when zlib failed.
    func reset() -> Bool { sb_inflater_reset(stream) == 0 }

    /// The inflaters not in use.
    static let pool = StreamPool<Inflater> { $0.reset() }

    /// The empty stored block's last four bytes, which the sender leaves out of every message.
    private static let messageTail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]

    /// Inflates all of `input` into `output`; `true` when the sender's stream ended (the rest is ignored).
    private func run(_ input: UnsafeRawBufferPointer, into output: inout ByteBuffer, maxSize: Int) throws -> Bool {
        var offset = 0
        while true {
            if output.writableBytes == 0 {
                guard output.readableBytes <= maxSize else { throw NIOWebSocketError.invalidFrameLength }
                output.reserveCapacity(min(maxSize + 1, 2 * output.capacity))
            }
            // Never more than one byte past the limit: that byte says the frame is too large.
            let room = min(output.writableBytes, maxSize + 1 - output.readableBytes)
            var consumed = 0
            var produced = 0
            var result: Int32 = 0
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: 0) { space in
                result = sb_inflater_inflate(
                    stream, input.baseAddress.map { $0.assumingMemoryBound(to: UInt8.self) + offset }, input.count - offset,
                    &consumed, space.baseAddress?.assumingMemoryBound(to: UInt8.self), room, &produced)
                return produced
            }
            offset += consumed
            guard output.readableBytes <= maxSize else { throw NIOWebSocketError.invalidFrameLength }
            switch result {
            case 1: return true
            case 0: break
            default: throw Failure.notDeflate
            }
            // All read, and zlib stopped with room to spare: nothing is left inside it.
            if offset == input.count && produced < room { return false }
            // Input left and room for output, and zlib took nothing: never so for DEFLATE data.
            if consumed == 0 && produced == 0 { throw Failure.notDeflate }
        }
    }
}
