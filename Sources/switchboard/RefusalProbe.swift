import Foundation
import HTTPTypes
import NIOCore
import NIOPosix
import NIOSSL
import SwitchboardHummingbird

/// A plain `GET` of a WebSocket URL, with the headers and the TLS settings of `switchboard connect`, read whole:
/// what the server says when it refuses an upgrade (the WebSocket client keeps only "WebSocket upgrade failed").
///
/// Foundation's `URLSession`, which asked before, trusts only the system's certificates: behind `--ca` (a
/// self-signed server) every refusal was told as "WebSocket upgrade failed", a missing key included.
enum RefusalProbe {
    /// The status and body of an answer.
    struct Answer {
        let status: Int
        let body: String
    }

    /// The answer to `GET` of `url`'s path, or `nil` when none came whole within `seconds`.
    static func get(url: String, headers: HTTPFields, tls: TLSConfiguration?, seconds: Int64 = 5) async -> Answer? {
        guard let components = URLComponents(string: url), let named = components.host, !named.isEmpty else { return nil }
        // An IPv6 address comes in brackets (Foundation keeps them in `host` on Linux).
        let host = named.hasPrefix("[") && named.hasSuffix("]") ? String(named.dropFirst().dropLast()) : named
        let secure = ["wss", "https"].contains(components.scheme?.lowercased() ?? "")
        let port = components.port ?? (secure ? 443 : 80)
        let target =
            (components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath)
            + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
        var request = "GET \(target) HTTP/1.1\r\nHost: \(host.contains(":") ? "[\(host)]" : host):\(port)\r\n"
        let unsent: Set<String> = ["origin", "host", "connection", "upgrade"]
        for field in headers where !unsent.contains(field.name.canonicalName) {
            request += "\(field.name.rawName): \(field.value)\r\n"
        }
        request += "Connection: close\r\n\r\n"
        let tlsContext: NIOSSLContext?
        if secure {
            guard let context = try? NIOSSLContext(configuration: tls ?? .makeClientConfiguration()) else { return nil }
            tlsContext = context
        } else {
            tlsContext = nil
        }
        // TLS names no IP address in SNI.
        let serverName = IPAddressRange(host) == nil ? host : nil
        let bytes = await read(host: host, port: port, request: request, tls: tlsContext, serverName: serverName, seconds: seconds)
        return bytes.flatMap(answer(of:))
    }

    /// Connects, writes `request`, and returns every byte the server sent until it closed (at most 1 MiB).
    private static func read(
        host: String, port: Int, request: String, tls: NIOSSLContext?, serverName: String?, seconds: Int64
    ) async -> [UInt8]? {
        let collector = Collector()
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(seconds))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverName)) }
                    try channel.pipeline.syncOperations.addHandler(collector)
                }
            }
        guard let channel = try? await bootstrap.connect(host: host, port: port).get() else { return nil }
        let deadline = channel.eventLoop.scheduleTask(in: .seconds(seconds)) { channel.close(promise: nil) }
        defer { deadline.cancel() }
        channel.writeAndFlush(ByteBuffer(string: request), promise: nil)
        try? await channel.closeFuture.get()
        return collector.bytes
    }

    /// The status and body of a whole HTTP/1.1 answer (a chunked body is joined).
    static func answer(of bytes: [UInt8]) -> Answer? {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return nil }
        let head = text[..<split.lowerBound].split(separator: "\r\n")
        guard let statusLine = head.first, statusLine.hasPrefix("HTTP/1."),
            let status = statusLine.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { return nil }
        var body = String(text[split.upperBound...])
        let chunked = head.dropFirst().contains { line in
            line.lowercased().hasPrefix("transfer-encoding:") && line.lowercased().contains("chunked")
        }
        if chunked {
            var joined = ""
            var rest = Substring(body)
            while let end = rest.range(of: "\r\n"), let size = Int(rest[..<end.lowerBound].split(separator: ";").first ?? "", radix: 16),
                size > 0
            {
                let start = end.upperBound
                guard let stop = rest.utf8.index(start, offsetBy: size, limitedBy: rest.utf8.endIndex) else { break }
                joined += String(rest[start..<stop])
                rest = rest[stop...].dropFirst(2)
            }
            body = joined
        }
        return Answer(status: status, body: body)
    }

    /// Keeps what a connection reads, up to 1 MiB.
    private final class Collector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        // Written on the channel's event loop, read after its close future, which that loop completes.
        var bytes: [UInt8] = []

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            if bytes.count < 1 << 20 { bytes += buffer.readableBytesView.prefix((1 << 20) - bytes.count) }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
