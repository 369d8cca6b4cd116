import CSwitchboardPTY
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Waits for spawned programs to exit and reaps them, without disturbing other child processes of the
/// host application.
///
/// One thread waits in `epoll_wait` over the pidfds of the programs it watches; when one becomes readable
/// (its process exited) it reaps exactly that process with `waitid(P_PIDFD, …)`. There is no SIGCHLD handler
/// and no `waitpid(-1)`, so other code in the process may spawn and wait for its own children.
final class ProcessReaper: Sendable {
    static let shared = ProcessReaper()

    private struct Watch {
        let pidfd: Int32
        let continuation: CheckedContinuation<Int32, Never>
    }
    private let epoll: Int32
    private let watches = Mutex<(next: UInt64, all: [UInt64: Watch])>((1, [:]))

    private init() {
        epoll = sb_epoll_create()
        precondition(epoll >= 0, "epoll_create1 failed: \(-epoll)")
        Thread { [self] in self.run() }.start()
    }

    /// Returns the wait status once the process of `pidfd` has exited. The caller keeps the pidfd (to send
    /// signals) and closes it after this returns.
    func waitForExit(pidfd: Int32) async -> Int32 {
        await withCheckedContinuation { continuation in
            let tag = watches.withLock { state in
                let tag = state.next
                state.next += 1
                state.all[tag] = Watch(pidfd: pidfd, continuation: continuation)
                return tag
            }
            let added = sb_epoll_add(epoll, pidfd, tag)
            if added != 0 {
                // Not watchable (should not happen): reap by polling once, then report what we have.
                _ = watches.withLock { $0.all.removeValue(forKey: tag) }
                var status: Int32 = 0
                _ = sb_pidfd_reap(pidfd, &status)
                continuation.resume(returning: status)
            }
        }
    }

    private func run() {
        var tags = [UInt64](repeating: 0, count: 64)
        while true {
            let ready = tags.withUnsafeMutableBufferPointer { sb_epoll_wait(epoll, $0.baseAddress, 64, -1) }
            if ready < 0 { continue }  // EINTR
            for tag in tags.prefix(Int(ready)) {
                guard let watch = watches.withLock({ $0.all[tag] }) else { continue }
                var status: Int32 = 0
                let reaped = sb_pidfd_reap(watch.pidfd, &status)
                if reaped == 0 { continue }  // spurious: not exited yet
                _ = sb_epoll_remove(epoll, watch.pidfd)
                _ = watches.withLock { $0.all.removeValue(forKey: tag) }
                watch.continuation.resume(returning: reaped > 0 ? status : -1)
            }
        }
    }
}

/// A `Thread` without Foundation: a detached pthread running a closure.
final class Thread: @unchecked Sendable {
    private let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }

    func start() {
        let box = Unmanaged.passRetained(self)
        var thread = pthread_t()
        let result = pthread_create(
            &thread, nil,
            { pointer in
                let owner = Unmanaged<Thread>.fromOpaque(pointer!).takeRetainedValue()
                owner.body()
                return nil
            }, box.toOpaque())
        precondition(result == 0, "pthread_create failed: \(result)")
        pthread_detach(thread)
    }
}
