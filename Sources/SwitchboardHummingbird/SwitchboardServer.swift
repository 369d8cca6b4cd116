public import Hummingbird
import HummingbirdWebSocket
public import Logging
public import ServiceLifecycle
public import UnixSignals
public import Switchboard
import NIOCore

/// A ready Hummingbird server for a Switchboard API.
///
/// ```swift
/// let api = SwitchboardAPI()
/// api.register { Echo() }
/// let server = SwitchboardServer(api: api, address: .hostname("127.0.0.1", port: 8080))
/// try await server.run()    // until SIGINT or SIGTERM
/// ```
///
/// On SIGINT or SIGTERM the server closes every WebSocket connection with 1001 ("Server shutting down"),
/// waits for their terminals to close, then stops.
public struct SwitchboardServer {
    /// The API being served.
    public let api: SwitchboardAPI
    /// How it is served.
    public let configuration: SwitchboardServerConfiguration
    /// The router, with Switchboard's routes added; add your own routes before calling ``run(gracefulShutdownSignals:shutdownTimeout:onForcedExit:)``.
    public let router: Router<SwitchboardRequestContext>
    let address: BindAddress
    let logger: Logger
    let onServerRunning: @Sendable (Int) async -> Void
    /// Switchboard's routes in ``router``, answered ahead of its trie (``SwitchboardResponder``).
    let endpoint: SwitchboardEndpoint<SwitchboardRequestContext>

    /// Creates a server.
    /// - Parameters:
    ///   - api: The API to serve.
    ///   - configuration: API root, message size, pings and compression.
    ///   - address: Where to listen (default 127.0.0.1:8080; port 0 picks a free port).
    ///   - logger: The server's logger.
    ///   - onServerRunning: Called with the bound port once the server accepts connections.
    public init(
        api: SwitchboardAPI, configuration: SwitchboardServerConfiguration = .init(),
        address: BindAddress = .hostname("127.0.0.1", port: 8080), logger: Logger = Logger(label: "switchboard"),
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        var configuration = configuration
        if configuration.opensShellAtSlash == nil { configuration.opensShellAtSlash = true }
        self.api = api
        self.configuration = configuration
        self.address = address
        self.logger = logger
        self.onServerRunning = onServerRunning
        let router = Router(context: SwitchboardRequestContext.self)
        endpoint = router.addSwitchboardRoutes(api, configuration: configuration)
        self.router = router
        if configuration.effectiveMaxTCPConnections < configuration.maxTCPConnections {
            logger.warning(
                "The open-file limit leaves room for \(configuration.effectiveMaxTCPConnections) connections, fewer than maxTCPConnections (\(configuration.maxTCPConnections)); connections beyond it get 503. Raise the limit (ulimit -n, systemd's LimitNOFILE) to serve more."
            )
        }
    }

    /// Raises the process's soft open-file limit (`RLIMIT_NOFILE`) to its hard limit, as Go's runtime does at
    /// start, so that ``SwitchboardServerConfiguration/maxTCPConnections``, rather than the 1,024 files a
    /// login shell or service manager often grants, bounds the connections served. `switchboard serve` calls
    /// it before it starts the server; an application that wants the same calls it before creating its server.
    /// - Returns: The soft limit before and after, or `nil` when it was already the hard limit.
    @discardableResult
    public static func raiseOpenFileLimit() -> (before: Int, after: Int)? {
        TCPConnectionLimiter.raiseOpenFileLimit()
    }

    /// Whether a host name or address is the loopback interface (`localhost`, `127.x.x.x`, `::1`).
    public static func isLoopback(_ host: String) -> Bool {
        let host = host.lowercased()
        return host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    /// Creates a server that listens on `host` and `port` (0 picks a free port).
    ///
    /// On a loopback host, a configuration that leaves ``SwitchboardServerConfiguration/allowedHosts`` `nil`
    /// answers only the loopback names (against DNS rebinding). With ``init(api:configuration:address:logger:onServerRunning:)``
    /// set it yourself.
    public init(
        api: SwitchboardAPI, configuration: SwitchboardServerConfiguration = .init(), host: String, port: Int,
        logger: Logger = Logger(label: "switchboard"), onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        var configuration = configuration
        if configuration.allowedHosts == nil, Self.isLoopback(host) {
            configuration.allowedHosts = BrowserGuard.loopbackHosts
        }
        self.init(
            api: api, configuration: configuration, address: .hostname(host, port: port), logger: logger,
            onServerRunning: onServerRunning)
    }

    /// The services to run in one `ServiceGroup`: the HTTP server, then the service that closes
    /// connections on a graceful shutdown. Use them to run the server next to services of your own.
    public var services: [any Service] {
        let onServerRunning = self.onServerRunning
        let responder = SwitchboardResponderBuilder(router: router, endpoint: endpoint)
        let application = Application(
            router: responder,
            server: .switchboard(webSocketRouter: responder, configuration: configuration),
            // No `Server` field: it tells a client nothing it needs, and a scanner what it has found.
            configuration: .init(address: address),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger
        )
        return [application, SwitchboardShutdownService(api: api)]
    }

    /// Runs the server until one of the signals arrives, then shuts down gracefully.
    ///
    /// The shutdown always ends: if the process is still running `shutdownTimeout` after the first signal
    /// (a handler stuck on the CPU, a close handler that never returns), `onForcedExit` runs and the process
    /// exits with status 1. The deadline runs on a thread of its own, so it fires even when every thread of
    /// Swift's concurrency pool is busy.
    /// - Parameters:
    ///   - gracefulShutdownSignals: The signals that start a graceful shutdown.
    ///   - shutdownTimeout: How long a shutdown may take (default 10 s); `nil` waits for ever.
    ///   - onForcedExit: Runs, on the watchdog's thread, just before a forced exit (end child processes
    ///     here, such as with `PTYManager.killEveryProgramNow()`).
    public func run(
        gracefulShutdownSignals: [UnixSignal] = [.sigterm, .sigint], shutdownTimeout: Duration? = .seconds(10),
        onForcedExit: @escaping @Sendable () -> Void = {}
    ) async throws {
        let watchdog = shutdownTimeout.map {
            ShutdownWatchdog(signals: gracefulShutdownSignals, timeout: $0, logger: logger, onForcedExit: onForcedExit)
        }
        defer { watchdog?.disarm() }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: gracefulShutdownSignals, logger: logger))
        try await group.run()
    }
}

/// Closes every connection of an API with 1001 when a graceful shutdown begins, and waits for their
/// terminals to close. Put it after the HTTP server in a `ServiceGroup`: services shut down in reverse
/// order, so connections close before the server stops.
public struct SwitchboardShutdownService: Service {
    let api: SwitchboardAPI

    /// Creates the service for an API.
    public init(api: SwitchboardAPI) { self.api = api }

    public func run() async throws {
        try? await gracefulShutdown()
        await api.closeAllConnections(code: .goingAway, reason: "Server shutting down")
    }
}
