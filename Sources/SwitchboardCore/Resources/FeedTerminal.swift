import HTTPTypes

/// Whether a feed terminal sends what it has.
public enum FeedStatus: String, CaseIterable, PropertyValue, Sendable {
    /// Nothing is sent (what comes meanwhile is dropped).
    case paused = "PAUSED"
    /// Everything is sent.
    case open = "OPEN"
}

/// A template for terminals that send a feed of lines (RESTable's feed terminal; `Switchboard.Admin.Console`
/// is one): a welcome, a ``status`` the client changes with `OPEN` and `PAUSE`, and `CLOSE` back to the Shell.
///
/// Declare the status as a property, so that a URI can open the feed running (`/ticker/status=open`), and
/// send with ``feed(_:to:)``, which drops what comes while the feed is paused:
/// ```swift
/// actor Ticker: FeedTerminal {
///     @Property(description: "PAUSED or OPEN") var status = FeedStatus.paused
///     var welcome: String { "### Ticker ###\nThe time, every second." }
///     private var clock: Task<Void, Never>?
///
///     func startFeed(on connection: TerminalConnection) async throws {
///         clock = Task {
///             while !Task.isCancelled {
///                 _ = try? await feed("\(Date())", to: connection)
///                 try? await Task.sleep(for: .seconds(1))
///             }
///         }
///     }
///     func stopFeed() async { clock?.cancel() }
/// }
/// ```
public protocol FeedTerminal: TextInputTerminal {
    /// Whether the feed sends; `OPEN` and `PAUSE` set it.
    var status: FeedStatus { get set }
    /// What the client reads first (a title and what the feed shows); the status and the commands follow.
    var welcome: String { get }
    /// Starts producing, after the welcome (a task that calls ``feed(_:to:)``). Default: nothing.
    func startFeed(on connection: TerminalConnection) async throws
    /// Stops producing, when the terminal closes. Default: nothing.
    func stopFeed() async
}

extension FeedTerminal {
    public func startFeed(on connection: TerminalConnection) async throws {}
    public func stopFeed() async {}

    public func open(_ connection: TerminalConnection) async throws {
        try await connection.send(
            "\(welcome)\n> Status: \(status.rawValue)\n> OPEN starts the feed, PAUSE pauses it, CLOSE returns to the Shell")
        try await startFeed(on: connection)
    }

    /// `OPEN`, `PAUSE` and `CLOSE`, in any case; an empty line does nothing; anything else is a `400`.
    public func receive(text: String, from connection: TerminalConnection) async throws {
        let command = text.trimmingWhitespace()
        switch command.uppercased() {
        case "": return
        case "OPEN":
            status = .open
            try await connection.send("> Status: OPEN")
        case "PAUSE":
            status = .paused
            try await connection.send("> Status: PAUSED")
        case "CLOSE":
            try await connection.send("> Status: CLOSED")
            try await connection.redirectToShell()
        default:
            throw SwitchboardError(
                .badRequest, code: .unknownCommand,
                "Unknown command '\(SwitchboardError.excerpt(command))'; the commands are OPEN, PAUSE and CLOSE")
        }
    }

    public func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {
        await stopFeed()
    }

    /// Sends a line of the feed if it is open; returns whether it did.
    /// - Throws: When the connection is gone or has left the terminal (stop feeding then).
    @discardableResult
    public func feed(_ text: String, to connection: TerminalConnection) async throws -> Bool {
        guard status == .open else { return false }
        try await connection.send(text)
        return true
    }
}
