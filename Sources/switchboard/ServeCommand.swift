import ArgumentParser
import Hummingbird
import Logging
import Switchboard
import SwitchboardHummingbird
import SwitchboardPTY
import SwitchboardSQLite
import SwitchboardSamples

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run a server with the Shell, the sample terminals (Echo, ChatRoom) and the sample Superhero resource.",
        discussion: "Stop it with Ctrl-C or SIGTERM: connections are closed with 1001 first."
    )

    @Option(help: "The address to listen on.") var host = "127.0.0.1"
    @Option(help: "The port to listen on (0 picks a free one).") var port = 8080
    @Option(help: "The API root every resource lives under.") var apiRoot = "/api"
    @Option(help: "The largest message a client may send, in bytes.") var maxMessageSize = 16 << 20
    @Option(help: "Seconds between pings to each client (0 turns them off).") var pingInterval = 30
    @Flag(help: "Trust X-Forwarded-For and X-Forwarded-Proto from a reverse proxy.") var trustProxyHeaders = false
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"
    @Flag(help: "Offer PTY shells (Switchboard.Pty) even when listening on a non-loopback address.")
    var allowRemotePty = false
    @Flag(help: "Do not offer PTY shells at all.") var noPty = false
    @Option(help: "Serve xterm.js and xterm.css for the browser console from this directory instead of the CDN.")
    var xtermDir: String?
    @Option(help: "The directory for the sample resources' SQLite database (created if missing).")
    var dataDir = "switchboard-data"

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel.lowercased()) else {
            throw ValidationError("Unknown log level '\(logLevel)'")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "switchboard")
        let api = SwitchboardAPI(logger: logger)
        let hub = ChatHub()
        api.register { Echo() }
        api.register { ChatRoom(hub: hub) }
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        let database = dataDir + "/samples.sqlite"
        let heroes = try await SQLiteEntityStore<Superhero>.open(
            path: database, description: Superhero.resourceDescription, views: Superhero.views, seed: Superhero.samples)
        api.register(resource: heroes)
        let loopback = ["127.0.0.1", "::1", "localhost"].contains(host) || host.hasPrefix("127.")
        var ptys: PtyManager?
        if noPty {
            logger.info("PTY terminals are off (--no-pty)")
        } else if loopback || allowRemotePty {
            let manager = PtyManager()
            manager.register(in: api)
            ptys = manager
            if !loopback {
                logger.warning("PTY terminals are on for a non-loopback address: anyone who reaches \(host):\(port) can run commands as this user")
            }
        } else {
            logger.notice(
                "PTY terminals are off: a PTY shell is remote code execution for whoever reaches \(host), and there are no API keys yet. Pass --allow-remote-pty to offer them anyway"
            )
        }

        let configuration = SwitchboardServerConfiguration(
            apiRoot: apiRoot, maxMessageSize: maxMessageSize,
            pingInterval: pingInterval > 0 ? .seconds(pingInterval) : nil, trustsProxyHeaders: trustProxyHeaders)
        let root = configuration.apiRoot
        let host = self.host
        let ptyManager = ptys
        let server = SwitchboardServer(
            api: api, configuration: configuration, address: .hostname(host, port: port), logger: logger
        ) { port in
            let base = "ws://\(host.contains(":") ? "[\(host)]" : host):\(port)"
            logger.info("Switchboard is listening", metadata: ["address": "\(host):\(port)"])
            logger.info("Shell: switchboard connect \(base)\(root)/shell")
            logger.info("Terminals: \(api.terminals.map { "\(base)\(root)/\($0.name)" }.joined(separator: "  "))")
            if ptyManager != nil {
                logger.info("Browser console: http://\(host.contains(":") ? "[\(host)]" : host):\(port)/console")
            }
            logger.info("Resources: curl http://\(host.contains(":") ? "[\(host)]" : host):\(port)\(root)  (sample data in \(database))")
        }
        if ptys != nil {
            server.router.addBrowserConsole(
                at: "/console", terminalURI: configuration.apiRoot + "/pty", assets: xtermDir.map { .directory($0) } ?? .cdn)
        }
        try await server.run()
        await ptys?.shutdown()
        try? await heroes.close()
        logger.info("Switchboard stopped")
    }
}
