import NIOCore

/// The last bytes of a program's output, for a client that attaches to a running program.
///
/// Appending costs one copy of the chunk; the buffer drops what is too old only once it holds twice its
/// limit, so each byte streamed is moved at most once more, however small the chunks (an array that drops
/// its head on every append moves the whole limit for each chunk).
struct ReplayBuffer {
    /// How many bytes the replay holds at most; 0 keeps nothing.
    let limit: Int
    private var bytes = ByteBuffer()

    init(limit: Int) { self.limit = max(0, limit) }

    mutating func append(_ chunk: ByteBuffer) {
        guard limit > 0 else { return }
        bytes.writeImmutableBuffer(chunk)
        if bytes.readableBytes > 2 * limit {
            bytes.moveReaderIndex(forwardBy: bytes.readableBytes - limit)
            bytes.discardReadBytes()
        }
    }

    /// How many bytes the buffer holds now (at most twice ``limit``).
    var heldBytes: Int { bytes.readableBytes }

    /// At most ``limit`` of the last bytes, starting at a character: never the middle of a UTF-8 sequence.
    var contents: ByteBuffer {
        var start = max(0, bytes.readableBytes - limit)
        let view = bytes.readableBytesView
        while start < view.count, view[view.startIndex + start] & 0xC0 == 0x80 { start += 1 }
        return bytes.getSlice(at: bytes.readerIndex + start, length: bytes.readableBytes - start)!
    }
}
