#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
public import Switchboard

/// A feed terminal (``FeedTerminal``): the time, every ``interval`` milliseconds, while the feed is open.
///
/// `ws://127.0.0.1:8080/api/ticker`, then `OPEN`, `PAUSE`, `CLOSE`; or `/api/ticker/status=open&interval=200`
/// to start it running.
public actor Ticker: FeedTerminal {
    public static var resourceDescription: String { "The time, every second: a feed terminal (OPEN, PAUSE, CLOSE)" }

    /// Whether the feed sends.
    @Property(description: "PAUSED or OPEN: whether the time is sent") public var status = FeedStatus.paused
    /// How often, in milliseconds (at least 100).
    @Property(description: "Milliseconds between two lines (100 or more)") public var interval = 1000
    private var clock: Task<Void, Never>?

    public init() {}

    public var welcome: String { "### Ticker ###\nThe time (UTC), every \(interval) ms while the feed is open." }

    public func startFeed(on connection: TerminalConnection) async throws {
        clock = Task { [weak self] in
            while let self, !Task.isCancelled {
                let pause = await self.interval
                do {
                    try await self.feed(ISO8601Time.now(), to: connection)
                    try await Task.sleep(for: .milliseconds(max(100, pause)))
                } catch {
                    return
                }
            }
        }
    }

    public func stopFeed() async { clock?.cancel() }
}

/// The current time as ISO 8601 text, in UTC.
enum ISO8601Time {
    static func now() -> String { Date().formatted(.iso8601) }
}
