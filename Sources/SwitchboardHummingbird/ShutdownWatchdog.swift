import Dispatch
import Foundation
import Logging
import Synchronization
import UnixSignals

/// Ends the process if a graceful shutdown takes longer than its deadline.
///
/// It listens for the shutdown signals with dispatch sources on a queue of its own (not Swift's
/// concurrency pool, which stuck handlers may fill), and on the first one starts a thread that waits for
/// the deadline, then runs `onForcedExit` and exits with status 1.
final class ShutdownWatchdog: Sendable {
    private final class State: Sendable {
        let armed = Atomic<Bool>(true)
        let started = Atomic<Bool>(false)
    }
    private let sources: Mutex<[any DispatchSourceSignal]>
    private let state = State()

    init(signals: [UnixSignal], timeout: Duration, logger: Logger, onForcedExit: @escaping @Sendable () -> Void) {
        let queue = DispatchQueue(label: "switchboard.shutdown-watchdog")
        let state = self.state
        var sources: [any DispatchSourceSignal] = []
        for signal in signals {
            let source = DispatchSource.makeSignalSource(signal: signal.rawValue, queue: queue)
            source.setEventHandler {
                guard state.armed.load(ordering: .acquiring),
                    state.started.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
                else { return }
                Thread.detachNewThread {
                    Thread.sleep(forTimeInterval: Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18)
                    guard state.armed.load(ordering: .acquiring) else { return }
                    logger.critical("The shutdown did not end within \(timeout); exiting now")
                    onForcedExit()
                    exit(1)
                }
            }
            source.resume()
            sources.append(source)
        }
        self.sources = Mutex(sources)
    }

    /// The shutdown ended in time: nothing more to do.
    func disarm() {
        state.armed.store(false, ordering: .releasing)
        sources.withLock { sources in
            for source in sources { source.cancel() }
            sources = []
        }
    }
}
