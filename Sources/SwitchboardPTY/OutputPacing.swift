/// How a PTY session paces its program's output against its clients, as a value: given what each client
/// has queued, read on, evict the clients too far behind, or wait.
///
/// The program runs at the pace of the fastest client: the session reads on while some client has at most
/// `waitLimit` bytes queued. On a shared terminal, a client more than `evictLimit` behind is detached, so one
/// stalled viewer cannot hold back the others or the server's memory; a terminal's only client is never
/// evicted (it is waited for, and its program blocks in `write`).
struct OutputPacing: Equatable {
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

    /// The next step for clients with these queued byte counts (client id → bytes).
    func step(pending: [Int: Int]) -> Step {
        guard let fastest = pending.values.min(), fastest > waitLimit else { return .read }
        if pending.count > 1 {
            let behind = pending.filter { $0.value > evictLimit }.map(\.key).sorted()
            // Evict only while someone stays: with every client far behind, the fastest is waited for.
            if !behind.isEmpty && behind.count < pending.count { return .evict(behind) }
        }
        return .wait
    }
}
