import NIOCore
import SwitchboardCore
import Synchronization

/// The keep-alive pings of every upgraded connection on one event loop, from one timer of that loop.
///
/// A timer of its own for each connection (NIO's `RepeatedTask`, its scheduled task, promises and callbacks)
/// cost about 0.7 KiB per idle connection. The round keeps its connections' watches in lists threaded through
/// the watches themselves (two references each, no allocation). The interval is cut into ticks, one per list
/// (``defaultSlotCount`` of them), and each tick pings the watches of one list. A watch joins the list whose
/// turn has just passed, so it is first pinged about one interval after it joined (at most one tick early)
/// and then once per interval, as with a timer of its own, and the pings (and their pongs) of thousands of
/// connections are spread over the interval as their own timers spread them: pinged all at once, 5,000
/// connections on a loop held it for about 100 ms. A watch whose last ping is still unanswered when its list's
/// turn comes again has its connection closed. The timer runs only while the round has watches: at the
/// default 30 seconds, a loop with connections wakes for it about twice a second.
///
/// Every method runs on the round's event loop, as the watches' own handler methods do.
final class PingRound: @unchecked Sendable {
    /// How many ticks, and lists of watches, an interval has.
    static let defaultSlotCount = 64

    private let eventLoop: any EventLoop
    private let tickInterval: TimeAmount
    /// The watch that joined each list last; each holds the one that joined before it.
    private var newest: [WebSocketWatch?]
    /// How many watches are in the round.
    private var count = 0
    /// The list the next tick pings; the one before it is the one whose turn has just passed.
    private var slotToPing = 0
    /// Runs while at least one watch is in the round.
    private var timer: RepeatedTask?

    fileprivate init(eventLoop: any EventLoop, interval: TimeAmount, slots: Int) {
        self.eventLoop = eventLoop
        self.tickInterval = .nanoseconds(max(interval.nanoseconds / Int64(slots), 1))
        self.newest = [WebSocketWatch?](repeating: nil, count: slots)
    }

    /// Whether the round's timer runs (it does while a watch is in the round).
    var isTicking: Bool { timer != nil }

    /// Adds a watch, which is first pinged about one interval later.
    func join(_ watch: WebSocketWatch) {
        eventLoop.assertInEventLoop()
        let slot = (slotToPing + newest.count - 1) % newest.count
        watch.slotInRound = slot
        watch.olderInRound = newest[slot]
        newest[slot]?.newerInRound = watch
        newest[slot] = watch
        count += 1
        if timer == nil {
            timer = eventLoop.scheduleRepeatedTask(initialDelay: tickInterval, delay: tickInterval) { _ in self.tick() }
        }
    }

    /// Takes a watch out of the round; the timer stops when the round is empty.
    func leave(_ watch: WebSocketWatch) {
        eventLoop.assertInEventLoop()
        let slot = watch.slotInRound
        let (older, newer) = (watch.olderInRound, watch.newerInRound)
        guard newer != nil || newest[slot] === watch else { return }  // not in the round
        older?.newerInRound = newer
        if let newer { newer.olderInRound = older } else { newest[slot] = older }
        watch.olderInRound = nil
        watch.newerInRound = nil
        count -= 1
        if count == 0 {
            timer?.cancel()
            timer = nil
        }
    }

    /// Pings the watches of the list whose turn it is, or closes the connections of those whose last ping
    /// went unanswered. A watch may leave while it is pinged (its channel closing at once): the next one is
    /// taken before.
    private func tick() {
        var next = newest[slotToPing]
        slotToPing = (slotToPing + 1) % newest.count
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
    /// How many ticks, and lists of watches, each round's interval has.
    let slots: Int
    private let rounds = Mutex<[ObjectIdentifier: PingRound]>([:])

    /// Rounds that ping every `interval`, spread over `slots` ticks; `nil` when the interval is not positive
    /// (no pings).
    init?(interval: Duration?, slots: Int = PingRound.defaultSlotCount) {
        guard let interval, interval > .zero else { return nil }
        self.interval = .nanoseconds(interval.nanoseconds)
        self.slots = max(slots, 1)
    }

    /// The round of `eventLoop`, made on first use.
    func round(on eventLoop: any EventLoop) -> PingRound {
        rounds.withLock { rounds in
            let key = ObjectIdentifier(eventLoop)
            if let round = rounds[key] { return round }
            let round = PingRound(eventLoop: eventLoop, interval: interval, slots: slots)
            rounds[key] = round
            return round
        }
    }
}
