import NIOCore
import NIOHTTP1

/// Writes into each HTTP/1 request head what the version-independent request Hummingbird reads would lose,
/// and keeps the connection from hanging on an upgrade that does not happen.
///
/// swift-nio-extras turns each head into an `HTTPRequest`, which has no version and takes its authority
/// from the `Host` field only. Two things went wrong with that:
/// - **HTTP/1.0.** Such a connection ends after the answer unless the request says `Connection: keep-alive`
///   (RFC 9112 §9.3), and it is kept only when the answer says `Connection: keep-alive` too (Appendix C.2.2).
///   Hummingbird, not knowing the version, kept every such connection open and never said so: a client that
///   reads its answer to the end of the connection (ApacheBench, with and without `-k`; health checkers;
///   scripts over `nc`) waited for the idle timeout, 30 s. A head that does not ask to keep the connection now
///   says `Connection: close`, which Hummingbird honours; the answer to one that asks says `keep-alive`.
/// - **An absolute-form target** (`GET http://evil.example/api/x HTTP/1.1`). RFC 9112 §3.2.2 has the server
///   take the target's authority and ignore `Host`; the request was checked against its `Host` field
///   (`127.0.0.1`) and served. The head's `Host` is now the target's authority, so the host check (the
///   guard against DNS rebinding) and the origin check see what the request names.
///
/// **Upgrades to other protocols, and `CONNECT`.** `curl --http2` and Java's `HttpClient` ask for
/// `Upgrade: h2c` over plain HTTP. NIO 2.101's upgrade handler lost the head of a first request that no
/// upgrader took, and the client got no answer at all; and NIO's HTTP decoder parses nothing after a request
/// that asks for an upgrade, or a `CONNECT` (llhttp's upgrade flag), so the connection hung after the answer.
/// Such a request's `Upgrade` field is taken out (the server keeps HTTP/1.1, as RFC 9110 §7.8 allows), and it
/// and a `CONNECT` are answered with `Connection: close`, ending the connection. (NIO also frames every answer
/// to a `CONNECT` without a body or `Content-Length`: its client reads it until the connection ends, which
/// for the router's `404` was the idle timeout, 30 s.)
///
/// **A WebSocket upgrade asked for with another method than `GET`** (`DELETE`, `POST`, … with `Upgrade: websocket`;
/// RFC 6455 §4.1 opens a WebSocket with `GET` only), **or without the rest of a handshake** (no
/// `Connection: upgrade`, no `Sec-WebSocket-Key`, a version other than 13: `curl -H 'Upgrade: websocket'`, which
/// got "Empty reply from server" from NIO's lost-head path), is treated the same way. NIO's upgrade handler takes any
/// method, and HummingbirdWebSocket decides an upgrade by running the route with an empty body, then answers
/// `400` to what it declines: a `DELETE` ran, and its client was told it had failed. It is now served as the
/// plain request it also is, with its body, and its answer ends the connection.
///
/// A connection's first `GET` that asks for a WebSocket upgrade is the last head this handler sees: it removes
/// itself, since after the upgrade the bytes that pass here are frames, not HTTP parts (and the HTTP decoder,
/// removed by the upgrade, hands on what it had buffered); a refused upgrade ends the connection.
///
/// It sits right after the HTTP decoder. When a connection's first head needs none of this (an HTTP/1.1
/// request in origin form that asks for no upgrade, as nearly all are), it passes it on and removes itself: a
/// client keeps its HTTP version and its form of target on a connection, and taking each later request apart
/// here cost 2 % of the instructions of a Shell `GET` over HTTP. So a client that switches on a later request
/// is served as before this handler: an HTTP/1.0 request waits for the idle timeout, an absolute-form target
/// is checked for its `Host` (such a client could send any `Host` anyway; the check guards browsers, which
/// never send that form), and a request that asks for another protocol, or a `CONNECT`, is left to the route:
/// Switchboard's routes end the connection with their answer to it (one look-up of `Upgrade` they make for
/// every request anyway), an application's own routes leave it hanging (curl and Java's `HttpClient` ask on
/// a connection's first request only, and a proxy's clients send `CONNECT` first). Otherwise it stays and
/// looks at every head;
/// answers are looked at only once a request has needed it (``AnswerFieldWriter``).
final class HTTP1HeadNormalizer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    /// What writes the `Connection` field of answers, once a request has needed one (an outbound handler of its
    /// own, so that the answers of a connection that never needs it pass by without a stop here).
    private var answerFields: AnswerFieldWriter?
    /// Whether the next head is the connection's first, which may ask for an upgrade.
    private var awaitsFirstHead = true

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else { return context.fireChannelRead(data) }
        let isFirst = awaitsFirstHead
        awaitsFirstHead = false
        let asksForUpgrade = head.headers.contains(name: "Upgrade")
        if isFirst && asksForUpgrade && head.method == .GET && Self.asksForWebSocket(head.headers) && Self.isWebSocketHandshake(head.headers) {
            Self.takeAuthorityFromTarget(&head)
            context.fireChannelRead(wrapInboundOut(.head(head)))
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        let isHTTP10 = head.version.major == 1 && head.version.minor == 0
        let isConnect = head.method == .CONNECT
        guard asksForUpgrade || isConnect || isHTTP10 || head.uri.utf8.first != UInt8(ascii: "/") || answerFields != nil else {
            context.fireChannelRead(data)
            // A first request that needs none of this: its client keeps its version and its form of target.
            if isFirst { context.pipeline.syncOperations.removeHandler(context: context, promise: nil) }
            return
        }
        var answerConnection: String?
        if asksForUpgrade || isConnect {
            // The decoder parses nothing after this request: its answer ends the connection. (A WebSocket upgrade
            // asked for on a later request is Hummingbird's to answer: `307`, closing.)
            if asksForUpgrade && (isFirst || !Self.asksForWebSocket(head.headers)) { head.headers.remove(name: "Upgrade") }
            head.headers.replaceOrAdd(name: "Connection", value: "close")
            answerConnection = "close"
        } else if isHTTP10 {
            if Self.asksToKeepAlive(head.headers) {
                answerConnection = "keep-alive"
            } else {
                head.headers.replaceOrAdd(name: "Connection", value: "close")
            }
        }
        if answerFields == nil && answerConnection != nil {
            let writer = AnswerFieldWriter()
            if (try? context.pipeline.syncOperations.addHandler(writer, position: .after(self))) != nil { answerFields = writer }
        }
        answerFields?.connections.append(answerConnection)
        Self.takeAuthorityFromTarget(&head)
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    /// Writes into each answer's head the `Connection` field its request needs, if any.
    ///
    /// The requests before the first that needed one are taken to be answered: a client that pipelines
    /// HTTP/1.1 requests and then an HTTP/1.0 one, or one that asks for an upgrade, may see the field on the
    /// wrong answer.
    final class AnswerFieldWriter: ChannelOutboundHandler, RemovableChannelHandler {
        typealias OutboundIn = HTTPServerResponsePart
        typealias OutboundOut = HTTPServerResponsePart

        /// For each request not yet answered, in order, the `Connection` field its answer must say, if any.
        var connections: [String?] = []

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            guard !connections.isEmpty, case .head(var head) = unwrapOutboundIn(data), head.status.code >= 200 else {
                return context.write(data, promise: promise)
            }
            guard let connection = connections.removeFirst(),
                !head.headers["Connection"].contains(where: { $0.lowercased().contains("close") })
            else { return context.write(data, promise: promise) }
            head.headers.replaceOrAdd(name: "Connection", value: connection)
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        }
    }

    /// Puts an absolute-form target's authority in `Host`, in place of what the field said.
    static func takeAuthorityFromTarget(_ head: inout HTTPRequestHead) {
        if let authority = absoluteFormAuthority(of: head.uri) {
            head.headers.remove(name: "Host")
            if !authority.isEmpty { head.headers.add(name: "Host", value: authority) }
        }
    }

    /// Whether an `Upgrade` field lists `websocket`, the one protocol the server upgrades to.
    static func asksForWebSocket(_ headers: HTTPHeaders) -> Bool {
        headers[canonicalForm: "Upgrade"].contains { $0.split(separator: "/").first?.lowercased() == "websocket" }
    }

    /// Whether the head has what NIO's WebSocket upgrader needs: `Connection: upgrade`, one `Sec-WebSocket-Key` and
    /// `Sec-WebSocket-Version: 13`. Without it NIO declines the upgrade on its lost-head path (no answer at all);
    /// such a head is served as a plain request instead, which below the API root says what is missing.
    static func isWebSocketHandshake(_ headers: HTTPHeaders) -> Bool {
        let version = headers[canonicalForm: "Sec-WebSocket-Version"]
        return version.count == 1 && version[0] == "13" && headers[canonicalForm: "Sec-WebSocket-Key"].count == 1
            && headers[canonicalForm: "Connection"].contains { $0.lowercased() == "upgrade" }
    }

    /// Whether a `Connection` field lists `keep-alive`.
    static func asksToKeepAlive(_ headers: HTTPHeaders) -> Bool {
        headers["Connection"].contains { value in
            value.split(separator: ",").contains { $0.filter { $0 != " " && $0 != "\t" }.lowercased() == "keep-alive" }
        }
    }

    /// The authority of an absolute-form target (`http://host:port/path`: `host:port`, without any
    /// `user@`), empty when it has none; `nil` for any other form (`/path`, `*`, a `CONNECT`'s `host:port`).
    static func absoluteFormAuthority(of target: String) -> String? {
        guard let separator = target.firstRange(of: "://") else { return nil }
        let scheme = target[..<separator.lowerBound]
        guard let first = scheme.first, first.isASCII, first.isLetter,
            scheme.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == ".") })
        else { return nil }
        let rest = target[separator.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        return String(authority.split(separator: "@", omittingEmptySubsequences: false).last ?? "")
    }
}
