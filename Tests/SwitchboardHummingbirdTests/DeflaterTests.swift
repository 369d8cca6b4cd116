import CSwitchboardZlib
import Foundation
import NIOCore
import Testing

@testable import SwitchboardHummingbird

/// Switchboard's own DEFLATE encoder (`FastDeflater.c`, ``Deflater`` at level 1), read back by zlib's
/// inflater: every kind of input inflates to itself, no match reaches past the window, the output never passes
/// its bound, and text comes out about as small as zlib's level 1 makes it.
@Suite(.timeLimit(.minutes(1)))
struct DeflaterTests {
    /// Inputs that take each of the encoder's roads: nothing, single bytes, the 256-byte threshold, runs (the
    /// longest matches, 258 bytes), a period just inside and just past the 32 KiB window, text (dynamic codes),
    /// short text (fixed codes), random bytes (stored blocks, also past 65,535 bytes), and text and random bytes
    /// mixed across the encoder's block of 32,768 literals and matches.
    static func inputs() -> [(name: String, bytes: [UInt8])] {
        var random = SystemRandomNumberGenerator()
        func noise(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) } }
        let text = Array(
            (try? String(contentsOfFile: FileManager.default.currentDirectoryPath + "/Docs/Architecture.md", encoding: .utf8))
                .map { Array($0.utf8) } ?? Array(repeating: UInt8(ascii: "a"), count: 1000))
        let period = noise(32_768)
        let longPeriod = noise(32_769)
        var mixed: [UInt8] = []
        for round in 0..<12 { mixed += round.isMultiple(of: 2) ? Array(text.prefix(20_000)) : noise(20_000) }
        return [
            ("empty", []), ("one byte", [7]), ("255 bytes", Array(text.prefix(255))), ("256 bytes", Array(text.prefix(256))),
            ("257 bytes", Array(text.prefix(257))), ("a run of 100,000", Array(repeating: 120, count: 100_000)),
            ("two bytes alternating", (0..<70_000).map { UInt8($0 % 2) }), ("a period of 32,768", period + period + period),
            ("a period of 32,769", longPeriod + longPeriod), ("text", text), ("text ×20", Array([[UInt8]](repeating: text, count: 20).joined())),
            ("short text", Array(text.prefix(300))), ("random 1,000", noise(1000)), ("random 200,000", noise(200_000)),
            ("text and noise mixed", mixed), ("few symbols", (0..<50_000).map { _ in UInt8.random(in: 0...3, using: &random) }),
        ]
    }

    @Test func everyInputInflatesToItself() throws {
        let deflater = try #require(Deflater(level: 1, windowBits: 15))
        let inflater = try #require(Inflater())
        for (name, bytes) in Self.inputs() {
            let compressed = try #require(deflater.compress(ByteBuffer(bytes: bytes), allocator: ByteBufferAllocator()), "\(name)")
            let payload = Array(compressed.readableBytesView)
            #expect(payload.suffix(4) == [0x00, 0x00, 0xFF, 0xFF], "\(name): ends with a sync flush")
            #expect(inflater.reset())
            // What a client does: the payload without its last four bytes, and the four bytes put back.
            let inflated = try inflater.inflate(
                ByteBuffer(bytes: payload.dropLast(4)), endOfMessage: true, maxSize: bytes.count + 1, allocator: ByteBufferAllocator())
            // Compared before #expect: a failed `==` of two long arrays has #expect work out their difference, which
            // for 200,000 bytes takes longer than any test may.
            let intact = Array(inflated.readableBytesView) == bytes
            #expect(intact, "\(name): \(bytes.count) bytes, \(payload.count) compressed")
        }
    }

    /// No match reaches further back than the window the client allowed (down to 256 bytes, which zlib's own
    /// compressor cannot keep to): zlib's inflater with a window of 2^bits
    /// refuses a distance beyond it ("invalid distance too far back"), and the repeats lie just beyond it.
    @Test(arguments: 8...15)
    func matchesStayInsideTheWindow(_ bits: Int) throws {
        var random = SystemRandomNumberGenerator()
        let block = (0..<(1 << bits) + 50).map { _ in UInt8.random(in: 0...255, using: &random) }
        let text = Array(String(repeating: "The window limits how far back a match may point. ", count: 200).utf8)
        let bytes = block + block + text + block
        let deflater = try #require(Deflater(level: 1, windowBits: bits))
        let compressed = try #require(deflater.compress(ByteBuffer(bytes: bytes), allocator: ByteBufferAllocator()))
        #expect(compressed.readableBytes < bytes.count, "the text compressed")
        // The repeats lie 50 bytes beyond the window; zlib inflating 16 bytes at a time must take them from it.
        let intact = try Self.inflate(Array(compressed.readableBytesView), windowBits: bits, room: 16) == bytes
        #expect(intact)
    }

    /// Messages made at random of the pieces output is made of (random bytes, runs, text, few symbols, and
    /// copies of what came before from distances around the window's size), cut into up to four fragments
    /// that are compressed one by one as a fragmented message is, with a random window of 2^8–2^15 bytes:
    /// zlib, inflating the fragments as one stream with that window, gets every message back. The generator is
    /// seeded, so that a failure names the message that shows it.
    @Test func randomMessagesInflateToThemselves() throws {
        let text = Array(try String(contentsOfFile: FileManager.default.currentDirectoryPath + "/Docs/PTY.md", encoding: .utf8).utf8)
        for seed in UInt64(1)...250 {
            var random = SeededGenerator(seed: seed)
            let bits = Int.random(in: 8...15, using: &random)
            let window = 1 << bits
            var bytes: [UInt8] = []
            let target = Int.random(in: 0...(seed.isMultiple(of: 10) ? 150_000 : 20_000), using: &random)
            while bytes.count < target {
                let count = Int.random(in: 1...3_000, using: &random)
                switch Int.random(in: 0..<5, using: &random) {
                case 0: bytes += (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
                case 1: bytes += repeatElement(UInt8.random(in: 0...255, using: &random), count: count)
                case 2:
                    let start = Int.random(in: 0..<text.count, using: &random)
                    bytes += text[start..<min(text.count, start + count)]
                case 3: bytes += (0..<count).map { _ in UInt8.random(in: 97...99, using: &random) }
                default:
                    guard !bytes.isEmpty else { continue }
                    // From just inside to just outside the window, and anywhere closer.
                    let distance = min(
                        bytes.count,
                        Bool.random(using: &random)
                            ? window + Int.random(in: -3...3, using: &random) : Int.random(in: 1...window, using: &random))
                    guard distance > 0 else { continue }
                    for _ in 0..<count { bytes.append(bytes[bytes.count - distance]) }
                }
            }
            var cuts = (0..<Int.random(in: 0...3, using: &random)).map { _ in Int.random(in: 0...bytes.count, using: &random) }
            cuts = [0] + cuts.sorted() + [bytes.count]
            let deflater = try #require(Deflater(level: 1, windowBits: bits))
            var payload: [UInt8] = []
            for (from, to) in zip(cuts, cuts.dropFirst()) {
                let fragment = try #require(
                    deflater.compress(ByteBuffer(bytes: bytes[from..<to]), allocator: ByteBufferAllocator()), "message \(seed)")
                payload += fragment.readableBytesView
            }
            let room = [16, 4_096, 1 << 20][Int.random(in: 0..<3, using: &random)]
            // A Bool, so that a failure prints the message's number rather than its bytes.
            let intact = (try? Self.inflate(payload, windowBits: bits, room: room)) == bytes
            #expect(
                intact,
                "message \(seed): \(bytes.count) bytes in \(cuts.count - 1) fragments, window 2^\(bits), \(payload.count) compressed")
        }
    }

    /// The encoder writes no byte past ``sb_fast_deflater_bound``, on the inputs that come closest to it
    /// (random bytes, stored), with bytes after the bound left as they were.
    @Test func theOutputStaysWithinItsBound() throws {
        let encoder = try #require(sb_fast_deflater_create(15))
        defer { sb_fast_deflater_free(encoder) }
        var random = SystemRandomNumberGenerator()
        for count in [0, 1, 255, 4096, 32_768, 65_535, 65_536, 131_073, 400_000] {
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
            let bound = sb_fast_deflater_bound(count)
            var output = [UInt8](repeating: 0xA5, count: bound + 64)
            let written = output.withUnsafeMutableBufferPointer { space in
                sb_fast_deflater_compress(encoder, bytes, count, space.baseAddress, bound)
            }
            #expect(written > 0 && written <= bound, "\(count) bytes: \(written) written, bound \(bound)")
            #expect(output[bound...].allSatisfy { $0 == 0xA5 }, "\(count) bytes: nothing past the bound")
            let intact = try Self.inflate(Array(output.prefix(written))) == bytes
            #expect(intact, "\(count) bytes")
        }
        #expect(sb_fast_deflater_compress(encoder, [1, 2, 3], 3, nil, sb_fast_deflater_bound(3) - 1) == -1, "too little room is refused")
    }

    /// Text (three of the guides, 176 KiB) comes out within 5 % of what zlib's level 1 makes of it (1.3 % larger
    /// when this was written), and less than half its size.
    @Test func textIsAboutAsSmallAsZlibsLevelOne() throws {
        var text: [UInt8] = []
        for name in ["Architecture.md", "Performance.md", "Security.md"] {
            text += Array(try String(contentsOfFile: FileManager.default.currentDirectoryPath + "/Docs/" + name, encoding: .utf8).utf8)
        }
        let ours = try #require(Deflater(level: 1, windowBits: 15)?.compress(ByteBuffer(bytes: text), allocator: ByteBufferAllocator()))
        let zlib = try #require(Self.zlibSize(text, level: 1))
        #expect(ours.readableBytes * 100 <= zlib * 105, "ours \(ours.readableBytes), zlib's level 1 \(zlib), of \(text.count)")
        #expect(ours.readableBytes * 2 < text.count, "text shrinks by more than half: \(ours.readableBytes) of \(text.count)")
    }

    /// `payload` (a sync-flushed stream) inflated by zlib with a window of 2^`windowBits` bytes, into
    /// `room` bytes at a time. zlib copies a match from the output of the same call however far back it lies;
    /// only what it must take from its window is held to the window's size, so a small `room` makes the
    /// window count.
    static func inflate(_ payload: [UInt8], windowBits: Int = 15, room: Int = 1 << 20) throws -> [UInt8] {
        let inflater = try #require(sb_inflater_create(Int32(windowBits)))
        defer { sb_inflater_free(inflater) }
        var output = [UInt8](repeating: 0, count: room)
        var inflated: [UInt8] = []
        var offset = 0
        while true {
            var consumed = 0
            var produced = 0
            let result = payload.withUnsafeBufferPointer { input in
                output.withUnsafeMutableBufferPointer { space in
                    sb_inflater_inflate(
                        inflater, input.baseAddress.map { $0 + offset }, input.count - offset, &consumed, space.baseAddress, space.count,
                        &produced)
                }
            }
            guard result == 0 else { throw InflateFailure(result: result) }
            inflated += output.prefix(produced)
            offset += consumed
            if offset == payload.count && produced < output.count { return inflated }
            if consumed == 0 && produced == 0 { throw InflateFailure(result: result) }
        }
    }

    /// What zlib's raw deflate at `level` makes of `bytes`, sync-flushed.
    static func zlibSize(_ bytes: [UInt8], level: Int) -> Int? {
        guard let stream = sb_deflater_create(Int32(level), 15) else { return nil }
        defer { sb_deflater_free(stream) }
        let bound = sb_deflater_bound(stream, bytes.count)
        var output = [UInt8](repeating: 0, count: bound)
        let written = output.withUnsafeMutableBufferPointer { sb_deflater_compress(stream, bytes, bytes.count, $0.baseAddress, bound) }
        return written > 0 ? written : nil
    }

    /// SplitMix64: the same numbers for the same seed on every machine.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var mixed = state
            mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
            mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
            return mixed ^ (mixed >> 31)
        }
    }

    /// zlib refused the data (-1), or it stopped short.
    struct InflateFailure: Error { let result: Int32 }
}
