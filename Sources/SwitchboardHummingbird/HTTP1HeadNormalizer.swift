import NIOCore
import NIOHTTP1

/// Writes into each HTTP/1 request head what the version-independent request Hummingbird reads would lose:
/// whether an HTTP/1.0 connection ends after the answer, and the authority of an absolute-form target.
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
/// It sits right after the HTTP decoder and looks at every head; a head that needs neither is passed on as it
/// is, and answers are looked at only once an HTTP/1.0 request has come.
final class HTTP1HeadNormalizer: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// Once an HTTP/1.0 request has come: for each request not yet answered, in order, whether its answer says
    /// `keep-alive`. (A client speaks one version on a connection; one that pipelines HTTP/1.1 requests and then
    /// HTTP/1.0 ones is not served this way.)
    private var answersKeepAlive: [Bool]?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data),
            head.version.minor == 0 || head.uri.utf8.first != UInt8(ascii: "/") || answersKeepAlive != nil
        else { return context.fireChannelRead(data) }
        if head.version.major == 1 && head.version.minor == 0 {
            let keepsAlive = Self.asksToKeepAlive(head.headers)
            answersKeepAlive = (answersKeepAlive ?? []) + [keepsAlive]
        } else if answersKeepAlive != nil {
            answersKeepAlive?.append(false)
        }
        Self.normalize(&head)
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard answersKeepAlive != nil, case .head(var head) = unwrapOutboundIn(data), head.status.code >= 200 || head.status.code == 101,
            let keepsAlive = answersKeepAlive?.first
        else { return context.write(data, promise: promise) }
        answersKeepAlive?.removeFirst()
        guard keepsAlive, !head.headers["Connection"].contains(where: { $0.lowercased().contains("close") }) else {
            return context.write(data, promise: promise)
        }
        head.headers.replaceOrAdd(name: "Connection", value: "keep-alive")
        context.write(wrapOutboundOut(.head(head)), promise: promise)
    }

    /// Ends an HTTP/1.0 exchange after its answer unless it asks to keep the connection, and puts an
    /// absolute-form target's authority in `Host`.
    static func normalize(_ head: inout HTTPRequestHead) {
        if head.version.major == 1 && head.version.minor == 0 && !asksToKeepAlive(head.headers) {
            head.headers.replaceOrAdd(name: "Connection", value: "close")
        }
        if let authority = absoluteFormAuthority(of: head.uri) {
            head.headers.remove(name: "Host")
            if !authority.isEmpty { head.headers.add(name: "Host", value: authority) }
        }
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
