import NIOCore
import SwitchboardCore
import Synchronization

/// The keep-alive pings of every upgraded connection on one event loop, from one timer of that loop.
///
/// A timer of its own for each connection (NIO's `RepeatedTask`, its scheduled task, promises and callbacks)
/// cost about 0.7 KiB per idle connection. The round keeps its connections' watches in a list threaded through
/// the watches themselves (two references each, no allocation) and pings them all on each tick; a watch whose
/// last ping is still unanswered at the next tick has its connection closed. So a connection is first pinged
/// at the first tick after it joined (within one interval), and then once per interval, as before.
///
/// Every method runs on the round's event loop, as the watches' own handler methods do.
final class PingRound: @unchecked Sendable {
    private let eventLoop: any EventLoop
    private let interval: TimeAmount
    /// The watch that joined last; each holds the one that joined before it.
    private var newest: WebSocketWatch?
    /// Runs while at least one watch is in the round.
    private var timer: RepeatedTask?

    fileprivate init(eventLoop: any EventLoop, interval: TimeAmount) {
        self.eventLoop = eventLoop
        self.interval = interval
    }

    /// Whether the round's timer runs (it does while a watch is in the round).
    var isTicking: Bool { timer != nil }

    /// Adds a watch, which is pinged from the next tick on.
    func join(_ watch: WebSocketWatch) {
        eventLoop.assertInEventLoop()
        watch.olderInRound = newest
        newest?.newerInRound = watch
        newest = watch
        if timer == nil {
            timer = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in self.tick() }
        }
    }

    /// Takes a watch out of the round; the timer stops when the round is empty.
    func leave(_ watch: WebSocketWatch) {
        eventLoop.assertInEventLoop()
        let (older, newer) = (watch.olderInRound, watch.newerInRound)
        older?.newerInRound = newer
        if let newer { newer.olderInRound = older } else if newest === watch { newest = older }
        watch.olderInRound = nil
        watch.newerInRound = nil
        if newest == nil {
            timer?.cancel()
            timer = nil
        }
    }

    /// Pings every watch, or closes the connections of those whose last ping went unanswered. A watch may
    /// leave while it is pinged (its channel closing at once): the next one is taken before.
    private func tick() {
        var next = newest
        while let watch = next {
            next = watch.olderInRound
            watch.pingOrClose()
        }
    }
}

/// One ``PingRound`` per event loop, for the connections of one server that ping at one interval.
final class PingRounds: Sendable {
    /// The time between pings.
    let interval: TimeAmount
    private let rounds = Mutex<[ObjectIdentifier: PingRound]>([:])

    /// Rounds that ping every `interval`; `nil` when it is not positive (no pings).
    init?(interval: Duration?) {
        guard let interval, interval > .zero else { return nil }
        self.interval = .nanoseconds(interval.nanoseconds)
    }

    /// The round of `eventLoop`, made on first use.
    func round(on eventLoop: any EventLoop) -> PingRound {
        rounds.withLock { rounds in
            let key = ObjectIdentifier(eventLoop)
            if let round = rounds[key] { return round }
            let round = PingRound(eventLoop: eventLoop, interval: interval)
            rounds[key] = round
            return round
        }
    }
}
