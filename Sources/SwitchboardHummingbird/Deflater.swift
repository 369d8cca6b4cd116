import CSwitchboardZlib
import NIOCore

/// A raw-DEFLATE compressor for what the server sends with permessage-deflate: at level 1 (the default)
/// Switchboard's own single-pass encoder, at levels 2–9 the system's zlib.
///
/// At level 1 zlib spends most of its time on its bit writer and block bookkeeping rather than on finding
/// matches; Switchboard's encoder (`FastDeflater.c`: one hash probe per position, each block coded with its own
/// Huffman codes, the fixed ones, or stored, whichever is smallest) makes text as small as zlib's level 1 does
/// in about two fifths of the CPU (3.7 against 9.8 ms per MB of this repository's text in 64 KiB messages, 3.08:1
/// against 3.10:1, the two in turns in one run of `BenchServer deflate`; `Docs/PerformanceHistory.md`, the
/// twenty-fifth and thirty-third rounds). Its output is plain DEFLATE in non-final blocks, which every inflater
/// reads, and it keeps to any window down to 256 bytes, which zlib cannot.
///
/// Switchboard compresses every message as a stream of its own (`server_no_context_takeover`), so a
/// connection keeps no compressor between messages: one is taken from ``pool`` for a message and given back
/// after it. A zlib compressor holds 256 KiB (its window, hash chains and pending output) and touches 64 KiB of
/// it as soon as it is made; kept for each connection, as Hummingbird's permessage-deflate keeps it, that was
/// most of what an idle browser's connection cost. Switchboard's encoder holds 258 KiB (its hash table and a
/// block's worth of literals and matches).
///
/// A deflater is used by one holder at a time: the pool hands it out and takes it back, and a message being
/// sent in fragments keeps it until its last frame. That is why it may cross tasks (`@unchecked Sendable`).
final class Deflater: @unchecked Sendable {
    let level: Int
    let windowBits: Int
    private let engine: Engine

    private enum Engine {
        /// Switchboard's encoder: each call a run of blocks that refers to nothing before it.
        case fast(OpaquePointer)
        case zlib(OpaquePointer)
    }

    /// A compressor at `level` (1–9; 1 is Switchboard's encoder, 2–9 zlib's levels) with a window of
    /// 2^`windowBits` bytes (8–15 at level 1, 9–15 at zlib's, which cannot keep to 256 bytes); `nil` when it
    /// cannot be made (no memory).
    init?(level: Int, windowBits: Int) {
        guard (1...9).contains(level), (Self.smallestWindowBits(level: level)...15).contains(windowBits) else { return nil }
        if level == 1 {
            guard let encoder = sb_fast_deflater_create(Int32(windowBits)) else { return nil }
            engine = .fast(encoder)
        } else {
            guard let stream = sb_deflater_create(Int32(level), Int32(windowBits)) else { return nil }
            engine = .zlib(stream)
        }
        self.level = level
        self.windowBits = windowBits
    }

    deinit {
        switch engine {
        case .fast(let encoder): sb_fast_deflater_free(encoder)
        case .zlib(let stream): sb_deflater_free(stream)
        }
    }

    /// `bytes` compressed and flushed to a byte boundary, so that the result ends with the empty stored block
    /// `00 00 ff ff`; `nil` when the compressor failed (the deflater must not be used again). Reads `bytes` in place.
    func compress(_ bytes: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer? {
        let bound: Int
        switch engine {
        case .fast: bound = sb_fast_deflater_bound(bytes.readableBytes)
        case .zlib(let stream): bound = sb_deflater_bound(stream, bytes.readableBytes)
        }
        var output = allocator.buffer(capacity: bound)
        var failed = false
        bytes.withUnsafeReadableBytes { input in
            _ = output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { space in
                let from = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
                let into = space.baseAddress?.assumingMemoryBound(to: UInt8.self)
                let written =
                    switch engine {
                    case .fast(let encoder): sb_fast_deflater_compress(encoder, from, input.count, into, space.count)
                    case .zlib(let stream): sb_deflater_compress(stream, from, input.count, into, space.count)
                    }
                failed = written < 0
                return max(written, 0)
            }
        }
        return failed ? nil : output
    }

    /// The smallest window the compressor at `level` keeps to: 2^8 bytes for Switchboard's encoder (level 1),
    /// 2^9 for zlib's, which refuses a 256-byte window for a raw stream.
    static func smallestWindowBits(level: Int) -> Int { level == 1 ? 8 : 9 }

    /// Starts a new stream: nothing compressed before is referred to by what follows. `false` when zlib failed.
    /// Switchboard's encoder never refers to an earlier call, so it has nothing to reset.
    func reset() -> Bool {
        switch engine {
        case .fast: true
        case .zlib(let stream): sb_deflater_reset(stream) == 0
        }
    }

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
