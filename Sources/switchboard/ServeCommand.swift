import ArgumentParser
import Hummingbird
import Logging
import Metrics
import PostgresNIO
import Prometheus
import Switchboard
import SwitchboardCSV
import SwitchboardHummingbird
import SwitchboardNIOSSL
import SwitchboardPTY
import SwitchboardPostgres
import SwitchboardSQLite
import SwitchboardSamples
import Synchronization
import UnixSignals

import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run a server with the Shell, the sample terminals (Echo, ChatRoom) and the sample Superhero resource.",
        discussion: """
            Every resource needs a key. With no key file, serve makes an access token at start (or takes \
            --token / SWITCHBOARD_TOKEN), keeps it owner-only in <data-dir>/token, and prints how to use it; \
            `switchboard connect` finds it by itself on this machine. A key file (--keys, or <data-dir>/keys.json; \
            see `switchboard keys`; owner-only: one that others can change is refused) gives named keys their rights; SIGHUP reloads it and closes the connections \
            of keys that were removed. A key file made while serve runs with its token is read on SIGHUP too, \
            and the token stays valid until serve stops. Stop the server with Ctrl-C or SIGTERM: connections are closed with 1001 first.
            """
    )

    @Option(help: "The address to listen on.") var host = "127.0.0.1"
    @Option(help: "The port to listen on (0 picks a free one).") var port = 8080
    @Option(help: "The API root every resource lives under.") var apiRoot = "/api"
    @Option(help: "The largest message a client may send, in bytes.") var maxMessageSize = 16 << 20
    @Option(help: "Seconds between pings to each client (0 turns them off).") var pingInterval = 30
    @Option(
        help: """
            How hard what the server sends is compressed when a client offers permessage-deflate: \
            1 (fastest, Switchboard's own encoder) to 9 (smallest; 2-9 are zlib's levels); 0 does not offer compression.
            """
    )
    var compressionLevel = 1
    @Option(
        help: "A reverse proxy (address or CIDR network) whose X-Forwarded-For and X-Forwarded-Proto are believed (repeatable).")
    var trustedProxy: [String] = []
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"
    @Flag(help: "Offer PTY shells (Switchboard.Pty) even when listening on a non-loopback address.")
    var allowRemotePty = false
    @Flag(help: "Do not offer PTY shells at all.") var noPty = false
    @Option(help: "Serve xterm.js and xterm.css for the browser console from this directory instead of the CDN.")
    var xtermDir: String?
    @Option(help: "The directory for the sample resources' SQLite database and the access token (created if missing).")
    var dataDir = "switchboard-data"
    @Option(help: "The access token to use instead of a random one (also SWITCHBOARD_TOKEN): at least 16 letters, digits and - . _ ~.") var token: String?
    @Option(help: "A key file of named API keys and their rights (default: <data-dir>/keys.json if it exists).")
    var keys: String?
    @Flag(help: "Turn authentication off: every caller gets every right. Refused on a non-loopback address.")
    var noAuth = false
    @Option(help: "A web origin, besides the server's own, whose pages may open WebSockets and use the REST API (CORS) (repeatable).")
    var allowOrigin: [String] = []
    @Option(help: "A host name the server answers besides the loopback names, when listening on loopback (repeatable).")
    var allowHost: [String] = []
    @Option(help: "A variable of the server's environment that PTY programs inherit, besides PATH, HOME, USER, SHELL, LANG, LC_* and TERM (repeatable).")
    var ptyEnv: [String] = []
    @Option(help: "Seconds a named PTY terminal may run with no client before it is ended (0: never).")
    var ptyIdleTimeout = 3600
    @Option(help: "A PEM certificate chain: serve wss:// and https:// (with --tls-key; SIGHUP reloads both).")
    var tlsCert: String?
    @Option(help: "The PEM private key of --tls-cert.") var tlsKey: String?
    @Option(help: "Seconds a shutdown may take before the process exits anyway (PTY programs killed).")
    var shutdownTimeout = 10
    @Option(help: "The most WebSocket connections served at once.") var maxConnections = 4096
    @Option(help: "The most WebSocket connections from one client address.") var maxConnectionsPerClient = 128
    @Option(help: "The most TCP connections of every kind (HTTP, WebSocket) held at once (default: --max-connections + 4096).")
    var maxTcpConnections: Int?
    @Option(
        help: "The most TCP connections from one peer address; a trusted proxy's count towards the total only (default: --max-connections-per-client + 128)."
    )
    var maxTcpConnectionsPerPeer: Int?
    @Option(help: "The most bytes of client input (inflated) all connections may hold at once; at least twice --max-message-size.")
    var maxInboundBytes = 256 << 20
    @Option(help: "Seconds one request may spend reading an entity resource before it is answered 503.")
    var queryTimeout = 10.0
    @Option(help: "The most entities one request returns; a GET without limit returns one such page.")
    var maxRowsPerRequest = 10_000
    @Option(help: "Shell commands one connection may run per second after a burst of 50 (0: no pacing).")
    var shellCommandsPerSecond = 20.0
    @Option(
        help: """
            A PostgreSQL database for the sample resources instead of <data-dir>/samples.sqlite, shared by every instance \
            that names it: postgres://user:password@host:port/database, ?sslmode=require for TLS (also SWITCHBOARD_DATABASE, \
            which keeps the password out of the process list).
            """)
    var database: String?
    @Option(
        help: """
            This instance's name among the instances that share the --database (the Instance column of             Switchboard.Admin.WebSocket and Switchboard.PtySession); default <host name>:<port>.
            """)
    var instance: String?
    @Flag(help: "Record every PTY session (for audit) in <data-dir>/recordings; otherwise a session is recorded when its URI says record=true.")
    var record = false
    @Flag(help: "Record keystrokes and pastes too (they carry passwords: only when your policy needs them).")
    var recordInput = false
    @Option(help: "The largest one recording may grow, in bytes; past it the recording stops and the session goes on.")
    var recordingMaxBytes = 64 << 20
    @Option(help: "The most bytes all recordings may take; the oldest finished ones are deleted first.")
    var recordingsMaxBytes = 1 << 30
    @Option(help: "Days a finished recording is kept (0: until --recordings-max-bytes needs the room).")
    var recordingsMaxDays = 30

    /// Every number in its range before anything starts: a port over 65535 was taken modulo 65536 (`--port 99999`
    /// listened on 34463), a negative time or size was taken as given, and an infinite or huge one crashed the
    /// process (`--query-timeout inf`, `--max-message-size 9223372036854775807`).
    func validate() throws {
        func check(_ holds: Bool, _ message: @autoclosure () -> String) throws {
            if !holds { throw ValidationError(message()) }
        }
        let day = 86_400
        try check((0...65_535).contains(port), "--port must be 0 (a free port) to 65535")
        // A root a client cannot send as it is (`x y`, `/api?x`), or with the `(` that begins a key in the URI.
        let unreserved = { (scalar: Unicode.Scalar) in
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "-._~".unicodeScalars.contains(scalar))
        }
        try check(
            apiRoot.unicodeScalars.allSatisfy { $0 == "/" || unreserved($0) },
            "--api-root must be a path of letters, digits and - . _ ~ (such as /api, /v1/terminals or /)")
        try check((1...(1 << 30)).contains(maxMessageSize), "--max-message-size must be 1 byte to 1 GiB (1073741824)")
        try check((0...9).contains(compressionLevel), "--compression-level must be 0 (no compression) to 9")
        try check((1...(1 << 40)).contains(maxInboundBytes), "--max-inbound-bytes must be 1 byte to 1 TiB")
        try check((0...day).contains(pingInterval), "--ping-interval must be 0 (no pings) to \(day) seconds")
        try check((0...(366 * day)).contains(ptyIdleTimeout), "--pty-idle-timeout must be 0 (never) to \(366 * day) seconds")
        try check((0...3_600).contains(shutdownTimeout), "--shutdown-timeout must be 0 (no deadline) to 3600 seconds")
        try check(queryTimeout > 0 && queryTimeout <= 3_600, "--query-timeout must be above 0 and at most 3600 seconds")
        try check(shellCommandsPerSecond >= 0 && shellCommandsPerSecond <= 1_000_000, "--shell-commands-per-second must be 0 (no pacing) to 1000000")
        let most = 1 << 24
        try check(
            (1...most).contains(maxConnections) && (1...most).contains(maxConnectionsPerClient)
                && (1...most).contains(maxRowsPerRequest),
            "--max-connections, --max-connections-per-client and --max-rows-per-request must be 1 to \(most)")
        try check(
            (maxTcpConnections ?? 1) <= 2 * most && (maxTcpConnectionsPerPeer ?? 1) <= 2 * most,
            "--max-tcp-connections and --max-tcp-connections-per-peer must be at most \(2 * most)")
        try check((0...36_500).contains(recordingsMaxDays), "--recordings-max-days must be 0 (no age limit) to 36500")
        try check(recordingsMaxBytes <= 1 << 50, "--recordings-max-bytes must be at most 1 PiB")
        // A directory without the files served the console a page that could not start (it was taken as it was).
        if let xtermDir {
            for file in ["xterm.js", "xterm.css"] where !FileManager.default.isReadableFile(atPath: xtermDir + "/" + file) {
                throw ValidationError(
                    "--xterm-dir '\(xtermDir)' has no readable \(file): it holds a browser build of xterm.js as xterm.js, and xterm.css "
                        + "(Scripts/bundle_local_xterm.sh DIR makes one from Debian's node-xterm)")
            }
        }
    }

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel.lowercased()) else {
            throw ValidationError("Unknown log level '\(logLevel)'")
        }
        LoggingSystem.bootstrap { label in
            var handler = DeferredMetadataLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "switchboard")
        let metrics = Self.bootstrapMetrics()
        let loopback = SwitchboardServer.isLoopback(host)
        if noAuth && !loopback {
            throw ValidationError("--no-auth is refused on a non-loopback address: anyone who reaches \(host) would get every right")
        }
        let access = try AccessSetup.make(
            token: token ?? ProcessInfo.processInfo.environment["SWITCHBOARD_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }, keyFile: keys, noAuth: noAuth,
            dataDirectory: dataDir)
        if noAuth { logger.warning("Authentication is off (--no-auth): every local user and process can use every resource, PTY shells included") }
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
        let tls: SwitchboardTLS?
        if let tlsCert, let tlsKey {
            do {
                tls = try SwitchboardTLS(certificateFile: tlsCert, keyFile: tlsKey)
            } catch {
                throw ValidationError("Cannot use the certificate '\(tlsCert)' and key '\(tlsKey)': \(error)")
            }
        } else {
            tls = nil
        }
        if !loopback && tls == nil {
            logger.warning(
                "Listening on \(host) without TLS: keys and everything typed cross the network in the clear; pass --tls-cert and --tls-key, or put a TLS proxy in front (--trusted-proxy)"
            )
        }
        guard maxInboundBytes >= 2 * maxMessageSize else {
            throw ValidationError("--max-inbound-bytes must be at least twice --max-message-size (one compressed message is inflated in pieces and joined)")
        }
        let everyWebSocketIsTCP = "every WebSocket connection is a TCP connection"
        if let maxTcpConnections, maxTcpConnections < maxConnections {
            throw ValidationError("--max-tcp-connections must be at least --max-connections (\(maxConnections)): \(everyWebSocketIsTCP)")
        }
        if let maxTcpConnectionsPerPeer, maxTcpConnectionsPerPeer < maxConnectionsPerClient {
            throw ValidationError(
                "--max-tcp-connections-per-peer must be at least --max-connections-per-client (\(maxConnectionsPerClient)): \(everyWebSocketIsTCP)")
        }
        let api = SwitchboardAPI(
            configuration: .init(
                maxRowsPerRequest: maxRowsPerRequest, maxInboundBytes: maxInboundBytes, queryTimeout: .milliseconds(Int(queryTimeout * 1000)),
                shellCommandsPerSecond: shellCommandsPerSecond),
            authenticator: access.authenticator, logger: logger)
        api.register(format: CSVFormat())
        api.register { Echo() }
        api.register { ChatRoom() }
        api.register { Dice() }
        api.register { Ticker() }
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let samples = try await Self.openSamples(
            database: database ?? ProcessInfo.processInfo.environment["SWITCHBOARD_DATABASE"].flatMap { $0.isEmpty ? nil : $0 },
            instanceName: instance ?? "\(ProcessInfo.processInfo.hostName):\(port == 0 ? "pid\(getpid())" : String(port))",
            dataDirectory: dataDir, api: api, logger: logger)
        var ptys: PTYManager?
        var sessionRecordings: SessionRecordings?
        if noPty {
            logger.info("PTY terminals are off (--no-pty)")
        } else if loopback || allowRemotePty {
            var program = PTYProgram.defaultShell
            program.inheritedVariables = ptyEnv
            guard recordingMaxBytes >= 4096, recordingsMaxBytes >= recordingMaxBytes, recordingsMaxDays >= 0 else {
                throw ValidationError("--recording-max-bytes must be at least 4096, and --recordings-max-bytes at least as large")
            }
            let recordings = try await SessionRecordings(
                configuration: .init(
                    directory: dataDir + "/recordings", recordsEverySession: record, recordsInput: recordInput,
                    maxBytesPerRecording: recordingMaxBytes, maxTotalBytes: recordingsMaxBytes,
                    maxAge: recordingsMaxDays > 0 ? .seconds(recordingsMaxDays * 86_400) : nil),
                logger: Logger(label: "switchboard.audit"))
            sessionRecordings = recordings
            if record { logger.notice("Every PTY session is recorded", metadata: ["directory": "\(dataDir)/recordings"]) }
            let manager = PTYManager(
                configuration: .init(program: program, idleTimeout: ptyIdleTimeout > 0 ? .seconds(ptyIdleTimeout) : nil), recordings: recordings)
            manager.register(in: api)
            ptys = manager
            if !loopback {
                logger.warning("PTY terminals are on for a non-loopback address: every key with rights on Switchboard.Pty can run commands as this user")
            }
        } else {
            logger.notice(
                "PTY terminals are off on a non-loopback address: a PTY shell runs commands as this user. Pass --allow-remote-pty to offer them to the keys with rights on Switchboard.Pty"
            )
        }

        if let path = access.keyFilePath, FileManager.default.fileExists(atPath: path), let file = try? AccessSetup.readTrustedKeyFile(path) {
            AccessSetup.warnAboutGrantsMatchingNothing(file, api: api, logger: logger)
        }
        let configuration = SwitchboardServerConfiguration(
            apiRoot: apiRoot, maxMessageSize: maxMessageSize,
            pingInterval: pingInterval > 0 ? .seconds(pingInterval) : nil,
            compression: compressionLevel > 0, compressionLevel: compressionLevel,
            trustedProxies: try trustedProxy.map { text in
                guard let range = IPAddressRange(text) else { throw ValidationError("'\(text)' is not an IP address or CIDR network") }
                return range
            },
            allowedHosts: loopback ? ["localhost", "127.0.0.1", "::1"] + allowHost : (allowHost.isEmpty ? nil : allowHost),
            allowedOrigins: allowOrigin, tls: tls, maxConnections: maxConnections, maxConnectionsPerClient: maxConnectionsPerClient,
            maxTCPConnections: maxTcpConnections, maxTCPConnectionsPerPeer: maxTcpConnectionsPerPeer)
        if let raised = SwitchboardServer.raiseOpenFileLimit() {
            logger.info("Raised the open-file limit", metadata: ["from": "\(raised.before)", "to": "\(raised.after)"])
        }
        let segments = configuration.apiRoot.split(separator: "/")
        let root = segments.isEmpty ? "" : "/" + segments.joined(separator: "/")
        let host = self.host
        let ptyManager = ptys
        let runtimeFile = Mutex<String?>(nil)
        let server = SwitchboardServer(
            api: api, configuration: configuration, host: host, port: port, logger: logger
        ) { port in
            logger.info("Switchboard is listening", metadata: ["address": "\(host):\(port)"])
            if let token = access.token, let file = AccessSetup.runtimeTokenFile(port: port),
                (try? AccessSetup.writeOwnerOnly(token + "\n", to: file)) != nil
            {
                runtimeFile.withLock { $0 = file }
            }
            let greeting = Self.greeting(
                host: host, port: port, root: root, access: access, pty: ptyManager != nil, api: api, sampleData: samples.place,
                showsToken: isatty(2) == 1, secure: tls != nil)
            FileHandle.standardError.write(Data(greeting.utf8))
        }
        if ptys != nil {
            server.router.addBrowserConsole(
                at: "/console", terminalURI: configuration.apiRoot + "/pty", replayURI: configuration.apiRoot + "/replay",
                assets: xtermDir.map { .directory($0) } ?? .cdn, api: api,
                configuration: server.configuration)
        }
        server.router.addMetricsEndpoint(api: api, configuration: server.configuration) { metrics.emitToBuffer() }
        server.router.addHealthEndpoint(configuration: server.configuration)
        let reloader = Task {
            for await _ in await UnixSignalsSequence(trapping: .sighup) {
                await access.reload(api: api, logger: logger)
                do {
                    try tls?.reload()
                    if tls != nil { logger.notice("TLS certificate reloaded") }
                } catch {
                    logger.error("TLS certificate not reloaded; the one in use stays", metadata: ["error": "\(error)"])
                }
            }
        }
        defer { reloader.cancel() }
        try await server.run(shutdownTimeout: shutdownTimeout > 0 ? .seconds(shutdownTimeout) : nil) {
            PTYManager.killEveryProgramNow()
        }
        await ptys?.shutdown()
        await sessionRecordings?.close()
        await samples.close()
        if let file = runtimeFile.withLock({ $0 }) { unlink(file) }
        logger.info("Switchboard stopped")
    }

    /// The sample Superhero resource, in `<data-dir>/samples.sqlite` or in a PostgreSQL database; returns where
    /// (for the greeting, without a password) and how to close it.
    static func openSamples(
        database: String?, instanceName: String, dataDirectory: String, api: SwitchboardAPI, logger: Logger
    ) async throws -> (place: String, close: @Sendable () async -> Void) {
        // With a database, the instances that share it are one system: chat rooms (group broadcasts), listings
        // of connections and PTYs, and the admin console span them.
        guard let database else {
            let path = dataDirectory + "/samples.sqlite"
            let heroes = try await SQLiteEntityStore<Superhero>.open(
                path: path, description: Superhero.resourceDescription, views: Superhero.views, seed: Superhero.samples)
            api.register(resource: heroes)
            return (path, { try? await heroes.close() })
        }
        guard !instanceName.isEmpty, instanceName.utf8.count <= 200, !instanceName.contains(where: \.isNewline) else {
            throw ValidationError("--instance: a name of 1 to 200 characters on one line")
        }
        let url: PostgresDatabaseURL
        do {
            url = try PostgresDatabaseURL(database)
        } catch {
            throw ValidationError("--database: \(error)")
        }
        let client = PostgresClient(configuration: url.clientConfiguration, backgroundLogger: logger)
        let running = Task { await client.run() }
        let place = url.place
        do {
            // The pool retries a refused login forever: give the first connection 10 seconds.
            let heroes = try await withThrowingTaskGroup(of: PostgresEntityStore<Superhero>?.self) { group in
                group.addTask {
                    try await PostgresEntityStore<Superhero>.open(
                        client: client, description: Superhero.resourceDescription, views: Superhero.views, seed: Superhero.samples, logger: logger)
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(10))
                    return nil
                }
                defer { group.cancelAll() }
                guard let opened = try await group.next(), let store = opened else {
                    running.cancel()
                    throw PostgresStoreError.unreachable("no connection within 10 seconds (is the address right, and the user and password?)")
                }
                return store
            }
            api.register(resource: heroes)
            await api.join(cluster: try await PostgresClusterBackplane.open(client: client, database: url, instanceName: instanceName, logger: logger))
            logger.info("Joined the instances that share the database", metadata: ["instance": "\(instanceName)"])
        } catch {
            running.cancel()
            // The driver's errors say little on purpose (they could hold secrets): the log has the details.
            logger.error("Cannot open the sample resource in the database", metadata: ["error": "\(String(reflecting: error))"])
            throw ValidationError("Cannot use the database \(place): \(error)")
        }
        return (
            place,
            {
                await api.leaveCluster()
                running.cancel()
            }
        )
    }

    /// Reports the API's figures to a Prometheus registry, served at `/metrics`: latencies in buckets that fit
    /// them (keystrokes in microseconds, requests in milliseconds).
    static func bootstrapMetrics() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["switchboard_pty_keystroke_echo_seconds"] = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1),
        ]
        factory.durationHistogramBuckets["switchboard_rest_request_duration_seconds"] = [
            .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1), .seconds(2), .seconds(5), .seconds(10),
        ]
        MetricsSystem.bootstrap(factory)
        return registry
    }

    /// What `serve` prints once it listens: how to reach it with each kind of client. The token itself is
    /// printed only to a terminal; a log gets commands that read it from its file.
    static func greeting(
        host: String, port: Int, root: String, access: AccessSetup, pty: Bool, api: SwitchboardAPI, sampleData: String,
        showsToken: Bool, secure: Bool
    ) -> String {
        let authority = "\(host.contains(":") ? "[\(host)]" : host):\(port)"
        let base = "\(secure ? "wss" : "ws")://\(authority)"
        let web = "\(secure ? "https" : "http")://\(authority)"
        var lines = ["", "Switchboard is listening on \(authority)"]
        let terminals = api.terminals.map { $0.name }.joined(separator: ", ")
        if let token = access.token, let file = access.tokenFilePath {
            let shown = showsToken ? token : "$(cat \(file))"
            lines.append("Access token: " + (showsToken ? token : "in \(file) (owner-only)"))
            lines.append("  switchboard connect \(base)\(root)/shell      (finds the token by itself on this machine)")
            lines.append("  wscat -c '\(base)\(root)/shell' -H \"Authorization: Bearer \(shown)\"")
            lines.append("  python -m websockets \"\(base)\(root)(\(shown))/shell\"")
            if pty { lines.append("  Browser console: \(web)/console#token=\(shown)") }
            lines.append("  curl -H \"Authorization: Bearer \(shown)\" \(web)\(root)")
        } else if let keys = access.keyFilePath {
            lines.append("Keys from \(keys): send one as 'Authorization: Bearer <key>' or in the URI as \(root)(<key>)/shell")
            lines.append("  switchboard connect --token <key> \(base)\(root)/shell")
            if pty { lines.append("  Browser console: \(web)/console#token=<key>") }
        } else {
            lines.append("Authentication is off (--no-auth)")
            lines.append("  switchboard connect \(base)\(root)/shell")
            if pty { lines.append("  Browser console: \(web)/console") }
        }
        lines.append("Terminals: \(terminals)")
        lines.append("Sample data: \(sampleData)")
        return lines.joined(separator: "\n") + "\n\n"
    }
}
