import HTTPTypes
import HummingbirdWebSocket
import NIOCore
import NIOWebSocket
import Switchboard
import Synchronization

/// Switchboard's permessage-deflate (RFC 7692), for servers: every message, either way, is a DEFLATE stream of
/// its own, so an idle connection holds no compression state at all; and what a client sends is inflated only
/// after the memory it can take is reserved from the connection's ``InboundAccount``.
///
/// - **No context takeover, either way.** The server answers every offer with `server_no_context_takeover`
///   and `client_no_context_takeover` (a server may include both whatever the client offered, RFC 7692,
///   sections 7.1.1.1 and 7.1.1.2): a compressor (``Deflater``) or an inflater (``Inflater``) is taken from a
///   pool shared by every connection for one message and given back after it. Hummingbird's
///   permessage-deflate keeps both for every connection from its handshake on (256 KiB of compressor, 64 KiB of
///   it touched at once, and 7 KiB of inflater with its 32 KiB window once used), which made an idle browser's
///   connection cost four to five times an uncompressed one's (120.6 against 26 KiB). What is given up: a message cannot refer to
///   the messages before it, which matters for small messages that repeat each other and not for a PTY's
///   output, which leaves in messages of up to 64 KiB.
/// - **Sending.** A message under ``minimumCompressedSize`` bytes goes uncompressed (RFC 7692, section 6);
///   a longer one is compressed even when deflate cannot make it smaller (its stored blocks cost 5 bytes in
///   64 KiB), as Hummingbird does: Autobahn's runner (kosoku) breaks on uncompressed answers to compressed
///   messages. A client that limits the server's window to 256 bytes (`server_max_window_bits=8`) gets
///   messages compressed with that window at level 1 (Switchboard's encoder, ``Deflater``) and uncompressed at
///   the levels of zlib, whose compressor cannot keep to it.
/// - **Receiving** (``DeflateReceiver``). What a frame can inflate to is reserved from the API's inbound budget
///   before it is inflated, and inflating stops one byte past the message limit (1009). Past the first moments
///   of a connection its frames do not come this way but through the ``WebSocketWatch``'s queue, whose reader
///   inflates them with the connection's receiver (the one this extension uses too while the reader reads
///   here: ``DeflateReceiver/current``).
struct PerMessageDeflateBuilder: WebSocketExtensionBuilder {
    static var name: String { "permessage-deflate" }
    let maxInflatedFrameSize: Int
    /// How hard what the server sends is compressed, 1...9: 1 is Switchboard's own encoder, 2...9 zlib's levels.
    let compressionLevel: Int

    /// - Parameter compressionLevel: How hard what the server sends is compressed, clamped to 1...9
    ///   (``Deflater``).
    init(maxInflatedFrameSize: Int, compressionLevel: Int = 1) {
        self.maxInflatedFrameSize = maxInflatedFrameSize
        self.compressionLevel = Self.level(compressionLevel)
    }

    /// The level the server compresses at when `requested` is configured: the nearest of 1...9.
    static func level(_ requested: Int) -> Int { min(max(requested, 1), 9) }

    /// Switchboard's permessage-deflate is a server's; a client offers the extension without parameters.
    func clientRequestHeader() -> String { Self.name }

    func serverReponseHeader(to request: WebSocketExtensionHTTPParameters) -> String? {
        Agreement(offer: request)?.responseHeader
    }

    func serverExtension(from request: WebSocketExtensionHTTPParameters) throws -> (any WebSocketExtension)? {
        Agreement(offer: request).map {
            PerMessageDeflate(compression: MessageCompression(agreement: $0, level: compressionLevel), maxInflatedFrameSize: maxInflatedFrameSize)
        }
    }

    /// What a request's offers (split one to a line, ``ExtensionOfferSplitter``) lead to, as the server
    /// negotiates them: the agreement on the first offer of this name that the server accepts; `nil` when
    /// there is none (the connection does not compress).
    static func agreement(_ requestHeaders: HTTPFields) -> Agreement? {
        for offer in WebSocketExtensionHTTPParameters.parseHeaders(requestHeaders) where offer.name == name {
            if let agreement = Agreement(offer: offer) { return agreement }
        }
        return nil
    }

    /// Switchboard's permessage-deflate is a server's (`switchboard connect` uses Hummingbird's).
    func clientExtension(from request: WebSocketExtensionHTTPParameters) throws -> (any WebSocketExtension)? { nil }

    /// What the server accepts of a client's offer (RFC 7692, section 7.1).
    struct Agreement: Equatable {
        /// The client's `server_max_window_bits`, which the answer repeats.
        var serverMaxWindowBits: Int?

        /// The window the server compresses with at `level`: 2^15 bytes unless the client asked for less; `nil`
        /// (nothing is compressed) when it asked for 256 bytes at a level of zlib's, whose compressor cannot
        /// keep to that (Switchboard's encoder, level 1, can).
        func sendWindowBits(level: Int) -> Int? {
            let bits = serverMaxWindowBits ?? 15
            return bits >= Deflater.smallestWindowBits(level: level) ? bits : nil
        }

        /// The agreement on an offer, or `nil` when the offer has a parameter that is unknown, repeated with a
        /// value it must not have, or out of range (the server then declines that offer).
        init?(offer: WebSocketExtensionHTTPParameters) {
            for (name, value) in offer.parameters {
                switch name {
                case "server_no_context_takeover":
                    guard value == .null else { return nil }
                case "client_no_context_takeover":
                    guard value == .null else { return nil }
                case "server_max_window_bits":
                    guard let bits = Self.windowBits(value) else { return nil }
                    serverMaxWindowBits = bits
                case "client_max_window_bits":
                    // The client can keep to a window the server names; Switchboard inflates with 32 KiB, and names none.
                    guard value == .null || Self.windowBits(value) != nil else { return nil }
                default:
                    return nil
                }
            }
        }

        /// The `Sec-WebSocket-Extensions` answer.
        var responseHeader: String {
            var header = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
            if let serverMaxWindowBits { header += "; server_max_window_bits=\(serverMaxWindowBits)" }
            return header
        }

        /// A window size parameter's value: a decimal number from 8 to 15 without leading zeros, maybe quoted.
        static func windowBits(_ parameter: WebSocketExtensionHTTPParameters.Parameter) -> Int? {
            guard case .value(var text) = parameter else { return nil }
            if text.utf8.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") { text = String(text.dropFirst().dropLast()) }
            guard !text.isEmpty, !text.hasPrefix("0"), text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
                let bits = Int(text), (8...15).contains(bits)
            else { return nil }
            return bits
        }
    }
}

/// How the server compresses the whole messages it sends on a connection that negotiated permessage-deflate:
/// each as a stream of its own, at the server's level, in the window the client allows. The connection's
/// transport compresses a message that fits in one frame itself (``WebSocketTransport``), so that it can go
/// to the event loop the direct way as uncompressed ones do, and marks the frame (RSV1), which
/// ``PerMessageDeflate`` then passes on as it is.
struct MessageCompression: Sendable {
    let level: Int
    let windowBits: Int

    /// How messages are compressed on a connection with this agreement at `level`; `nil` when the server
    /// sends them uncompressed (the client allows a window the compressor at that level cannot keep to).
    init?(agreement: PerMessageDeflateBuilder.Agreement, level: Int) {
        guard let windowBits = agreement.sendWindowBits(level: level) else { return nil }
        self.level = level
        self.windowBits = windowBits
    }

    /// A whole message's payload compressed as it goes in a frame with RSV1: a stream of its own, flushed,
    /// without the flush's last four bytes (RFC 7692, section 7.2.1); `nil` for a message shorter than
    /// ``PerMessageDeflate/minimumCompressedSize`` (sent as it is) or when the compressor failed.
    func compress(_ message: ByteBuffer) -> ByteBuffer? {
        guard message.readableBytes >= PerMessageDeflate.minimumCompressedSize,
            let deflater = Deflater.take(level: level, windowBits: windowBits),
            let compressed = deflater.compress(message, allocator: ByteBufferAllocator())
        else { return nil }
        deflater.giveBack()
        return PerMessageDeflate.withoutTail(compressed)
    }
}

/// The per-connection extension of ``PerMessageDeflateBuilder``.
final class PerMessageDeflate: WebSocketExtension {
    /// Messages shorter than this go uncompressed: deflate's own overhead would take most of what it saves.
    static let minimumCompressedSize = 256

    /// How what the server sends is compressed; `nil`: it goes uncompressed (the client allows a window the
    /// compressor cannot keep to).
    let compression: MessageCompression?
    let receiver: DeflateReceiver
    /// The deflater of the message being sent in fragments, from its first frame to its last; `nil` between
    /// messages and while a message goes uncompressed.
    private let sending = Mutex<Deflater?>(nil)

    /// Why a frame could not be sent: the compressor failed in the middle of a fragmented message, which can
    /// then be neither finished nor taken back (the connection is closed with 1011).
    struct CompressionFailed: Error, CustomStringConvertible {
        var description: String { "compressing a fragmented message failed" }
    }

    var name: String { PerMessageDeflateBuilder.name }
    var reservedBits: WebSocketFrame.ReservedBits { .rsv1 }

    init(compression: MessageCompression?, maxInflatedFrameSize: Int) {
        self.compression = compression
        receiver = DeflateReceiver(maxInflatedFrameSize: maxInflatedFrameSize)
    }

    // MARK: Receiving

    /// Inflates a frame Hummingbird's stream read (one of a connection's first moments, before the watch's
    /// queue takes over). Data that is not DEFLATE fails the connection with 1002, as it does in the queue
    /// (RFC 7692, section 8.2.3.3): Hummingbird closes with 1011 for any error it does not know, so such data
    /// is reported as one of NIO's protocol errors, which it closes with 1002.
    func processReceivedFrame(_ frame: WebSocketFrame, context: WebSocketExtensionContext) async throws -> WebSocketFrame {
        do {
            // The reader's receiver: a message begun here may go on in the watch's queue.
            return try await (DeflateReceiver.current ?? receiver).inflateIfCompressed(frame)
        } catch is Inflater.Failure {
            throw NIOWebSocketError.multiByteControlFrameLength
        }
    }

    // MARK: Sending

    /// Compresses what the transport did not: the frames of a fragmented message, and a whole message
    /// the transport handed over as it is. A frame with RSV1 is a whole message the transport compressed
    /// (``MessageCompression``) and goes as it is.
    func processFrameToSend(_ frame: WebSocketFrame, context: WebSocketExtensionContext) async throws -> WebSocketFrame {
        guard let compression else { return frame }
        switch frame.opcode {
        case .text, .binary:
            guard !frame.rsv1 else { return frame }
            guard frame.fin else {
                // The first frame of a fragmented message: the message is compressed with one deflater, held
                // until its last frame.
                guard let deflater = Deflater.take(level: compression.level, windowBits: compression.windowBits),
                    let compressed = deflater.compress(frame.data, allocator: ByteBufferAllocator())
                else { return frame }
                sending.withLock { $0 = deflater }
                var sent = frame
                sent.data = compressed
                sent.rsv1 = true
                return sent
            }
            // A whole message: compressed when it is long enough to gain from it.
            guard let payload = compression.compress(frame.data) else { return frame }
            var sent = frame
            sent.data = payload
            sent.rsv1 = true
            return sent
        case .continuation:
            guard let deflater = sending.withLock({ $0 }) else { return frame }
            guard let compressed = deflater.compress(frame.data, allocator: ByteBufferAllocator()) else {
                sending.withLock { $0 = nil }
                throw CompressionFailed()
            }
            var sent = frame
            sent.data = compressed
            if frame.fin {
                sending.withLock { $0 = nil }
                deflater.giveBack()
                sent.data = Self.withoutTail(compressed) ?? compressed
            }
            return sent
        default:
            return frame
        }
    }

    /// A flushed stream without its last four bytes `00 00 ff ff`, as a message ends (RFC 7692, section 7.2.1);
    /// `nil` if it does not end with them.
    fileprivate static func withoutTail(_ bytes: ByteBuffer) -> ByteBuffer? {
        guard bytes.readableBytes >= 4, bytes.getBytes(at: bytes.writerIndex - 4, length: 4) == [0x00, 0x00, 0xFF, 0xFF] else { return nil }
        return bytes.getSlice(at: bytes.readerIndex, length: bytes.readableBytes - 4)
    }

    func shutdown() async {
        sending.withLock { $0 = nil }
    }
}
