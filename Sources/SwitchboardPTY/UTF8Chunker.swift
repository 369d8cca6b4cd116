import NIOCore
import SwitchboardCore

/// Cuts a program's output into chunks of whole UTF-8 characters, as a text message needs them: a sequence
/// that a read splits waits for the next read, and invalid bytes become U+FFFD.
///
/// Valid output, the common case, passes through without a copy (checked in place, ASCII sixteen bytes at a
/// time); only a chunk with a split sequence at one of its ends, or with invalid bytes, is copied.
struct UTF8Chunker {
    /// The start of a sequence that the last chunk did not complete (at most 3 bytes).
    private var carry: [UInt8] = []

    /// Whether no part of a character waits for the next chunk.
    var isEmpty: Bool { carry.isEmpty }

    /// The whole characters of `chunk` (after what the last chunk left over); empty when it holds none yet.
    mutating func chunk(_ chunk: ByteBuffer) -> ByteBuffer {
        var bytes = chunk
        if !carry.isEmpty {
            var joined = ByteBuffer()
            joined.reserveCapacity(carry.count + chunk.readableBytes)
            joined.writeBytes(carry)
            joined.writeImmutableBuffer(chunk)
            bytes = joined
            carry = []
        }
        let incomplete = bytes.withUnsafeReadableBytes { Self.incompleteSuffixLength(UnsafeRawBufferPointer($0)) }
        if incomplete > 0 {
            carry = Array(bytes.readableBytesView.suffix(incomplete))
            bytes = bytes.getSlice(at: bytes.readerIndex, length: bytes.readableBytes - incomplete)!
        }
        if bytes.withUnsafeReadableBytes(\.isValidUTF8) { return bytes }
        return ByteBuffer(string: String(decoding: bytes.readableBytesView, as: UTF8.self))
    }

    /// How many trailing bytes begin a UTF-8 sequence that they do not complete (0 to 3).
    static func incompleteSuffixLength(_ bytes: UnsafeRawBufferPointer) -> Int {
        var index = bytes.count - 1
        var continuation = 0
        while index >= 0, continuation < 3, bytes[index] & 0xC0 == 0x80 {
            index -= 1
            continuation += 1
        }
        guard index >= 0 else { return 0 }
        let lead = bytes[index]
        let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
        return length > 1 && continuation + 1 < length ? continuation + 1 : 0
    }
}
