import NIOCore
import Synchronization

/// DEFLATE streams not in use, kept for the next message: permessage-deflate's compressors and inflaters
/// (``Deflater``, ``Inflater``), shared by every connection of the process.
///
/// Switchboard negotiates no context takeover either way, so every message is a DEFLATE stream of its own and
/// a connection holds a stream only while a message passes: an idle connection holds none. A stream is used
/// by one holder at a time, taken from the pool for a message and given back after it.
final class StreamPool<Stream: AnyObject & Sendable>: Sendable {
    /// The streams kept for any one key: as many as messages pass at once on a busy server (about one per
    /// thread), and no more.
    let capacity: Int
    private let idle = Mutex<[Int: [Stream]]>([:])
    private let reset: @Sendable (Stream) -> Bool

    /// - Parameter reset: Starts a stream anew before it is kept; `false` (the stream failed) drops it.
    init(capacity: Int = max(4, 2 * System.coreCount), reset: @escaping @Sendable (Stream) -> Bool) {
        self.capacity = capacity
        self.reset = reset
    }

    /// A stream kept under `key`, or a new one from `make` (`nil` when it cannot be made).
    func take(_ key: Int = 0, orMake make: () -> Stream?) -> Stream? {
        idle.withLock { $0[key]?.popLast() } ?? make()
    }

    /// Takes a stream back after its message, started anew; it is dropped when the pool holds enough.
    func giveBack(_ stream: Stream, key: Int = 0) {
        guard reset(stream) else { return }
        idle.withLock { idle in
            if idle[key, default: []].count < capacity { idle[key, default: []].append(stream) }
        }
    }

    /// How many streams the pool holds (for tests).
    var count: Int { idle.withLock { $0.values.reduce(0) { $0 + $1.count } } }
}
