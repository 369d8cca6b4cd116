import CSwitchboardZlib
import NIOCore

/// A raw-DEFLATE compressor (the system's zlib) for what the server sends with permessage-deflate.
///
/// Switchboard compresses every message as a stream of its own (`server_no_context_takeover`), so a
/// connection keeps no compressor between messages: one is taken from ``pool`` for a message and given back
/// after it. A zlib compressor holds 256 KiB (its window, hash chains and pending output) and touches 64 KiB of
/// it as soon as it is made; kept for each connection, as Hummingbird's permessage-deflate keeps it, that was
/// most of what an idle browser's connection cost.
///
/// A deflater is used by one holder at a time: the pool hands it out and takes it back, and a message being
/// sent in fragments keeps it until its last frame. That is why it may cross tasks (`@unchecked Sendable`).
final class Deflater: @unchecked Sendable {
    let level: Int
    let windowBits: Int
    private let stream: OpaquePointer

    /// A compressor at zlib's `level` (1–9) with a window of 2^`windowBits` bytes (9–15); `nil` when zlib
    /// cannot make one (no memory).
    init?(level: Int, windowBits: Int) {
        guard (1...9).contains(level), (9...15).contains(windowBits),
            let stream = sb_deflater_create(Int32(level), Int32(windowBits))
        else { return nil }
        self.level = level
        self.windowBits = windowBits
        self.stream = stream
    }

    deinit { sb_deflater_free(stream) }

    /// `bytes` compressed and flushed to a byte boundary, so that the result ends with the empty stored block
    /// `00 00 ff ff`; `nil` when zlib failed (the deflater must not be used again). Reads `bytes` in place.
    func compress(_ bytes: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer? {
        let bound = sb_deflater_bound(stream, bytes.readableBytes)
        var output = allocator.buffer(capacity: bound)
        var failed = false
        bytes.withUnsafeReadableBytes { input in
            _ = output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { space in
                let written = sb_deflater_compress(
                    stream, input.baseAddress?.assumingMemoryBound(to: UInt8.self), input.count,
                    space.baseAddress?.assumingMemoryBound(to: UInt8.self), space.count)
                failed = written < 0
                return max(written, 0)
            }
        }
        return failed ? nil : output
    }

    /// Starts a new stream: nothing compressed before is referred to by what follows. `false` when zlib failed.
    func reset() -> Bool { sb_deflater_reset(stream) == 0 }

    /// The deflaters not in use, by level and window.
    static let pool = StreamPool<Deflater> { $0.reset() }

    /// A deflater from ``pool`` (or a new one) at `level` with a window of 2^`windowBits` bytes, at the start of
    /// a stream; give it back with ``giveBack()``.
    static func take(level: Int, windowBits: Int) -> Deflater? {
        pool.take(level << 8 | windowBits) { Deflater(level: level, windowBits: windowBits) }
    }

    /// Gives the deflater back to ``pool`` once its message is sent.
    func giveBack() { Self.pool.giveBack(self, key: level << 8 | windowBits) }
}
