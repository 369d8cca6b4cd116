import HummingbirdWebSocket
import HummingbirdWSCompression
import NIOCore
import NIOWebSocket
import Switchboard
import Synchronization

/// permessage-deflate that reserves memory from the connection's ``InboundAccount`` before it inflates a frame.
///
/// A compressed frame of `n` bytes inflates to at most about 1,032 × `n` bytes, and never to more than the
/// message limit; inflating it takes up to three times that: the pieces it is inflated into (their sizes
/// rounded up to powers of two by NIO's allocator), then the buffer they are joined in. That much is reserved
/// before the frame is inflated, and what the frame did not need is given back right after; the rest stays
/// charged to the message until its terminal has handled it. So however many connections send compressed
/// input at once, the server never holds more inflated input than the API's budget.
struct BudgetedDeflateBuilder: WebSocketExtensionBuilder {
    static var name: String { "permessage-deflate" }
    let deflate: any WebSocketExtensionBuilder
    let maxInflatedFrameSize: Int

    /// - Parameter compressionLevel: zlib's level for what the server sends, clamped to 1...9.
    init(maxInflatedFrameSize: Int, compressionLevel: Int = 1) {
        self.deflate = WebSocketExtensionFactory.perMessageDeflate(
            compressionLevel: min(max(compressionLevel, 1), 9), maxDecompressedFrameSize: maxInflatedFrameSize
        ).build()
        self.maxInflatedFrameSize = maxInflatedFrameSize
    }

    func clientRequestHeader() -> String { deflate.clientRequestHeader() }

    func serverReponseHeader(to request: WebSocketExtensionHTTPParameters) -> String? {
        deflate.serverReponseHeader(to: request)
    }

    func serverExtension(from request: WebSocketExtensionHTTPParameters) throws -> (any WebSocketExtension)? {
        try deflate.serverExtension(from: request).map { BudgetedDeflate(inflater: $0, maxInflatedFrameSize: maxInflatedFrameSize) }
    }

    func clientExtension(from request: WebSocketExtensionHTTPParameters) throws -> (any WebSocketExtension)? {
        try deflate.clientExtension(from: request)
    }
}

/// The per-connection extension of ``BudgetedDeflateBuilder``.
final class BudgetedDeflate: WebSocketExtension {
    /// The most a deflate stream can expand: 258 bytes from about 2 bits.
    static let maxDeflateRatio = 1_032
    let inflater: any WebSocketExtension
    let maxInflatedFrameSize: Int
    /// Whether the message being received is compressed (its first frame had RSV1); continuation frames
    /// do not repeat the bit.
    private let receivingCompressed = Mutex(false)

    var name: String { inflater.name }
    var reservedBits: WebSocketFrame.ReservedBits { inflater.reservedBits }

    init(inflater: any WebSocketExtension, maxInflatedFrameSize: Int) {
        self.inflater = inflater
        self.maxInflatedFrameSize = maxInflatedFrameSize
    }

    func processReceivedFrame(_ frame: WebSocketFrame, context: WebSocketExtensionContext) async throws -> WebSocketFrame {
        let compressed: Bool
        switch frame.opcode {
        case .text, .binary:
            compressed = frame.rsv1
            receivingCompressed.withLock { $0 = frame.fin ? false : compressed }
        case .continuation:
            compressed = receivingCompressed.withLock { receiving in
                defer { if frame.fin { receiving = false } }
                return receiving
            }
        default:
            compressed = false
        }
        guard compressed, let account = InboundAccount.current else {
            return try await inflater.processReceivedFrame(frame, context: context)
        }
        let reservation = Self.reservation(forCompressed: frame.data.readableBytes, maxInflatedFrameSize: maxInflatedFrameSize)
        try await account.reserve(reservation)
        do {
            let inflated = try await inflater.processReceivedFrame(frame, context: context)
            account.giveBack(reservation - inflated.data.readableBytes)
            return inflated
        } catch {
            account.giveBack(reservation)
            throw error
        }
    }

    func processFrameToSend(_ frame: WebSocketFrame, context: WebSocketExtensionContext) async throws -> WebSocketFrame {
        try await inflater.processFrameToSend(frame, context: context)
    }

    func shutdown() async { await inflater.shutdown() }

    /// What inflating a compressed frame of `length` bytes can take at most, joining of the pieces included.
    static func reservation(forCompressed length: Int, maxInflatedFrameSize: Int) -> Int {
        let (expanded, overflow) = (length + 4).multipliedReportingOverflow(by: maxDeflateRatio)
        return 3 * min(overflow ? maxInflatedFrameSize : expanded, maxInflatedFrameSize)
    }
}
