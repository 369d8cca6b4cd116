/// How a PTY session paces its program's output against its clients, as a value: given what each client
/// has queued and since when it has taken nothing, read on, evict the clients that hold things up, or wait.
///
/// The program runs at the pace of the fastest client: the session reads on while some client has at most
/// `waitLimit` bytes queued. On a shared terminal, a client is detached when it has more than `evictLimit`
/// queued and has taken nothing for `stallLimit` (a stalled viewer), or when it has more than `dropLimit`
/// queued however it reads (a viewer too slow for the others); so one viewer can neither hold back the
/// others nor the server's memory. A client that keeps taking its output is not detached for falling
/// behind by a few MiB: the fastest client is often only the one whose socket buffers still absorb output
/// that nobody reads (loopback buffers alone hold several MiB). A terminal's only client is never evicted
/// (it is waited for, and its program blocks in `write`).
struct OutputPacing: Equatable {
    /// One client's queue, as the pacing sees it.
    struct Queue: Equatable {
        /// Bytes queued and not yet sent.
        var pending: Int
        /// How long the client has had output queued without taking any (zero when it has nothing queued).
        var waiting: Duration
    }

    /// What the session should do next.
    enum Step: Equatable {
        /// Read more output.
        case read
        /// Detach these clients, then ask again.
        case evict([Int])
        /// Wait for a client to take some of its output, then ask again.
        case wait
    }

    let waitLimit: Int
    let evictLimit: Int
    let stallLimit: Duration
    let dropLimit: Int

    /// The next step for clients with these queues (client id → queue).
    func step(_ queues: [Int: Queue]) -> Step {
        if queues.count > 1 {
            let holdingUp = queues.filter { _, queue in
                queue.pending > dropLimit || (queue.pending > evictLimit && queue.waiting >= stallLimit)
            }.map(\.key).sorted()
            // Evict only while someone stays: with every client holding things up, the fastest is waited for.
            if !holdingUp.isEmpty && holdingUp.count < queues.count { return .evict(holdingUp) }
        }
        guard let fastest = queues.values.map(\.pending).min(), fastest > waitLimit else { return .read }
        return .wait
    }
}
