public import HummingbirdCore
public import HummingbirdWebSocket
import NIOCore

/// How Switchboard is served over HTTP and WebSocket.
public struct SwitchboardServerConfiguration: Sendable {
    /// The API root every resource lives under (default `/api`): `ws://host/api/shell`.
    public var apiRoot: String
    /// Whether `/` belongs to Switchboard too, when the API root is not `/`: a WebSocket upgrade on `/` opens
    /// the home terminal (the Shell) and a plain `GET /` lists the resources, as `GET /api` does.
    ///
    /// `nil` (the default) means: on for ``SwitchboardServer``, which owns every route of its router; off for
    /// `Router.addSwitchboard(_:configuration:)` in an application of your own, whose `/` is its own. Set
    /// `true` there only if your application has no `GET /` route: Hummingbird stops at start with
    /// "GET already has a handler" when two routes claim it.
    public var opensShellAtSlash: Bool?
    /// The largest message a client may send, in bytes (default 16 MiB); a larger one closes the
    /// connection with 1009. It is also the largest frame accepted and sent.
    public var maxMessageSize: Int
    /// The largest HTTP request body accepted, in bytes (default 4 MiB); larger ones get `413`.
    public var maxBodySize: Int
    /// How often the server pings each client, with an empty payload (nothing a line client would print); a
    /// client that has not answered a ping by the next one is closed (1001, "No answer to ping"). `nil` turns
    /// pings off. Default 30 s.
    public var pingInterval: Duration?
    /// How long a close may take (default 10 s): the server waits this long for the client's close frame after
    /// sending its own, and drops a connection whose close has not completed this long after it began, even
    /// when its close frame could not be sent (a client that reads nothing never takes it). Once the server
    /// shuts down gracefully, 2 s at most.
    public var closeTimeout: Duration
    /// How long a new connection may take to send its first request head before it is closed (default
    /// 10 s). Guards against clients that trickle a request in byte by byte to hold connections open; the
    /// heads after it, on a keep-alive connection, are bounded by ``idleTimeout``.
    public var requestHeadTimeout: Duration
    /// Whether permessage-deflate compression is offered (default `true`). Switchboard's permessage-deflate
    /// answers every offer with no context takeover either way: each message is compressed as a stream of its
    /// own, with compressors and inflaters shared by every connection, so an idle connection that negotiated
    /// compression (as every browser does) holds none of them.
    public var compression: Bool
    /// How hard the server compresses what it sends when a client negotiated permessage-deflate: 1 (fastest,
    /// the default: Switchboard's own DEFLATE encoder) to 9 (smallest; 2–9 are zlib's levels); values outside
    /// are taken as the nearest end.
    ///
    /// Browsers, Python `websockets` and `switchboard connect` all offer compression, so this sets the CPU a
    /// stream of PTY output costs. Measured on text (`Docs/PerformanceHistory.md`, the twenty-third, twenty-fifth
    /// and thirty-third rounds): zlib's default level 6 made the output 3.9 times smaller at about 25 ms of CPU
    /// per MB, and cut the rate of PTY output to a compressing client by about 40 %; level 1 makes it about 3
    /// times smaller and adds about 3 ms per MB to what sending it uncompressed costs, its encoder alone two
    /// fifths of what zlib's level 1 takes.
    public var compressionLevel: Int
    /// The reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed, by address or
    /// network (default none: anyone could send them). The client's address is then the right-most
    /// `X-Forwarded-For` entry that is not one of them, and `IsEncrypted` follows `X-Forwarded-Proto` only
    /// when the peer is one of them.
    public var trustedProxies: [IPAddressRange]
    /// The host names the server answers (the `Host` header, without its port); any other gets `403`. This
    /// stops DNS rebinding: a web page on `evil.example` whose name the attacker points at 127.0.0.1.
    /// `nil` (the default) means: the loopback names (`localhost`, `127.0.0.1`, `::1`) when
    /// ``SwitchboardServer`` listens on loopback, and any host otherwise.
    public var allowedHosts: [String]?
    /// Web origins besides the server's own that may open WebSockets and send state-changing requests
    /// (`https://app.example.com`; `*` for any, which turns the check off). Requests without `Origin`
    /// (anything but a browser) and from the server's own origin are always allowed; others get `403`
    /// before any upgrade. Pages of these origins may also read the REST API's answers with `fetch` (CORS:
    /// `Access-Control-Allow-Origin`, and preflights answered); pages of other origins may not.
    public var allowedOrigins: [String]
    /// Hummingbird's HTTP/1 settings, which Switchboard builds on: the idle timeout (see ``idleTimeout``),
    /// the request decoder's limits (`httpDecoder`: 80 KiB per header field and in all, 1,000 fields by
    /// default), and channel handlers of your own (`additionalChannelHandlers`, which run after
    /// Switchboard's). The WebSocket settings are Switchboard's own (``webSocketConfiguration``): its
    /// compression counts inflated bytes against the API's memory budget and its pings carry no payload.
    public var http1: HTTP1Channel.Configuration

    /// How long an HTTP connection may go without reading or writing before it is closed (default 30 s):
    /// idle keep-alive connections, request bodies that stop arriving, and the next request head on a
    /// keep-alive connection, which must be whole within this time of the previous answer (bytes that
    /// trickle in do not count as activity until the head is complete). It also bounds output a client stops
    /// taking, over HTTP and WebSocket alike: when the connection's buffer is full and the client takes none
    /// of it within this time (2 s once the server shuts down), the connection is closed, and an upgraded
    /// connection's terminal with it. A client that reads slowly keeps its connection. It is ``http1``'s
    /// `idleTimeout`.
    public var idleTimeout: Duration {
        get { http1.idleTimeout.map { Duration.nanoseconds($0.nanoseconds) } ?? .seconds(30) }
        set { http1.idleTimeout = TimeAmount(newValue) }
    }
    /// The most WebSocket connections served at once (default 4,096); an upgrade beyond it gets `503`.
    public var maxConnections: Int
    /// The most WebSocket connections from one client address (default 128; the address behind a trusted
    /// proxy counts); an upgrade beyond it gets `503`.
    public var maxConnectionsPerClient: Int
    /// The most TCP connections the server holds at once, of every kind: plain HTTP, WebSocket, and TLS
    /// handshakes under way (default: ``maxConnections`` and 4,096 more). A connection beyond it is answered
    /// `503` and closed. The server also keeps this below what its open-file limit allows (the soft
    /// `RLIMIT_NOFILE`, less 256 files for everything else and 64 for refusals being answered), so that it
    /// answers `503` rather than failing to accept; ``SwitchboardServer`` logs a warning when the limit is the
    /// lower of the two, and ``SwitchboardServer/raiseOpenFileLimit()`` raises the limit.
    public var maxTCPConnections: Int
    /// The most TCP connections from one peer address (default: ``maxConnectionsPerClient`` and 128 more); a
    /// connection beyond it is answered `503` and closed. The address is the TCP peer's: a trusted proxy
    /// (``trustedProxies``), which carries many clients, counts only towards ``maxTCPConnections``.
    public var maxTCPConnectionsPerPeer: Int
    /// TLS for `wss://` and `https://` (default `nil`: plain `ws://` and `http://`). Every connection is
    /// then `IsEncrypted`.
    public var tls: (any ConnectionEncryption)?

    /// Creates a configuration; every parameter has a production default.
    public init(
        apiRoot: String = "/api", opensShellAtSlash: Bool? = nil, maxMessageSize: Int = 16 << 20,
        pingInterval: Duration? = .seconds(30), closeTimeout: Duration = .seconds(10),
        requestHeadTimeout: Duration = .seconds(10), compression: Bool = true, compressionLevel: Int = 1, trustedProxies: [IPAddressRange] = [],
        maxBodySize: Int = 4 << 20, allowedHosts: [String]? = nil, allowedOrigins: [String] = [], tls: (any ConnectionEncryption)? = nil,
        maxConnections: Int = 4096, maxConnectionsPerClient: Int = 128, idleTimeout: Duration = .seconds(30),
        maxTCPConnections: Int? = nil, maxTCPConnectionsPerPeer: Int? = nil
    ) {
        self.http1 = HTTP1Channel.Configuration(idleTimeout: TimeAmount(idleTimeout))
        self.maxConnections = maxConnections
        self.maxConnectionsPerClient = maxConnectionsPerClient
        self.maxTCPConnections = maxTCPConnections ?? maxConnections + 4096
        self.maxTCPConnectionsPerPeer = maxTCPConnectionsPerPeer ?? maxConnectionsPerClient + 128
        self.tls = tls
        self.allowedHosts = allowedHosts
        self.allowedOrigins = allowedOrigins
        self.maxBodySize = maxBodySize
        self.requestHeadTimeout = requestHeadTimeout
        self.apiRoot = apiRoot
        self.opensShellAtSlash = opensShellAtSlash
        self.maxMessageSize = maxMessageSize
        self.pingInterval = pingInterval
        self.closeTimeout = closeTimeout
        self.compression = compression
        self.compressionLevel = compressionLevel
        self.trustedProxies = trustedProxies
    }

    /// ``maxTCPConnections``, or less when the process's open-file limit leaves room for fewer.
    var effectiveMaxTCPConnections: Int {
        min(maxTCPConnections, TCPConnectionLimiter.connectionsTheOpenFileLimitAllows() ?? .max)
    }

    var browserGuard: BrowserGuard { BrowserGuard(allowedHosts: allowedHosts, allowedOrigins: allowedOrigins) }

    /// The API root normalised: a leading `/`, no trailing `/` (`""` for the server root).
    var normalizedRoot: String {
        var root = apiRoot
        while root.hasSuffix("/") { root.removeLast() }
        if !root.isEmpty && !root.hasPrefix("/") { root = "/" + root }
        return root
    }

    /// The WebSocket settings, for when you build the server with Hummingbird's
    /// `.http1WebSocketUpgrade(webSocketRouter:configuration:)` yourself rather than with
    /// `.switchboard(webSocketRouter:configuration:)`.
    public var webSocketConfiguration: WebSocketServerConfiguration {
        WebSocketServerConfiguration(
            maxFrameSize: maxMessageSize,
            extensions: compression
                ? [
                    WebSocketExtensionFactory { [maxMessageSize, compressionLevel] in
                        PerMessageDeflateBuilder(maxInflatedFrameSize: maxMessageSize, compressionLevel: compressionLevel)
                    }
                ] : [],
            // Switchboard's routes ping with empty payloads themselves (WebSocketWatch).
            autoPing: .disabled,
            closeTimeout: closeTimeout,
            validateUTF8: true
        )
    }
}
