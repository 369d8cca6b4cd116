import NIOCore
import NIOHTTP1

/// Splits a WebSocket upgrade's list of extension offers into one `Sec-WebSocket-Extensions` line each, so
/// that every offer is negotiated on its own.
///
/// RFC 6455 (section 9.1) lets a client list several offers in one line, separated by commas, most wanted
/// first (Autobahn's cases 13.7 offer permessage-deflate three ways in one line). HummingbirdWebSocket 2.8
/// reads each line as one offer, so the offers after the first became parameter values of the first, and
/// ``PerMessageDeflateBuilder`` declined the whole line. This handler sits right after the HTTP decoder,
/// rewrites the first request head when one of its lines lists several offers (commas inside quoted strings
/// do not count), and removes itself after the first head: an upgrade is always the connection's first request.
final class ExtensionOfferSplitter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    static let header = "Sec-WebSocket-Extensions"

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else { return context.fireChannelRead(data) }
        let lines = head.headers[Self.header]
        if lines.contains(where: { $0.contains(",") }) {
            head.headers.remove(name: Self.header)
            for offer in lines.flatMap(Self.offers(in:)) { head.headers.add(name: Self.header, value: offer) }
            context.fireChannelRead(wrapInboundOut(.head(head)))
        } else {
            context.fireChannelRead(data)
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    /// The offers of one header line: split at the commas outside quoted strings, trimmed, empty ones left out.
    static func offers(in line: String) -> [String] {
        var offers: [String] = []
        var current: [UInt8] = []
        var quoted = false
        var escaped = false
        func endOffer() {
            let isBlank = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
            if let first = current.firstIndex(where: { !isBlank($0) }), let last = current.lastIndex(where: { !isBlank($0) }) {
                offers.append(String(decoding: current[first...last], as: UTF8.self))
            }
            current = []
        }
        for byte in line.utf8 {
            if quoted {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    quoted = false
                }
            } else if byte == UInt8(ascii: "\"") {
                quoted = true
            } else if byte == UInt8(ascii: ",") {
                endOffer()
                continue
            }
            current.append(byte)
        }
        endOffer()
        return offers
    }
}
