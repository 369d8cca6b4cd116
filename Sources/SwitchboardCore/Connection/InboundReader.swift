/// A connection's incoming messages, read by one task at a time.
///
/// The task that holds the dispatcher's reader role calls ``next()``; when a handler that task runs takes
/// too long, the role (and this reader, mid-stream) passes to a new task, under the dispatcher's lock, so
/// two tasks never read at once. It also holds the connection's ``InboundAccount``.
final class InboundReader: @unchecked Sendable {
    let account: InboundAccount
    /// How a reader leaves the input while nothing is ready to read, when the transport allows it.
    let parking: (any InboundParking)?
    private let messages: Messages

    init<Inbound: AsyncSequence & Sendable>(_ inbound: Inbound, account: InboundAccount) where Inbound.Element == TerminalMessage {
        messages = Iterating(inbound.makeAsyncIterator())
        parking = (inbound as? any ParkableInbound)?.parking
        self.account = account
        parking?.endsMemoryWaitsAtTheInputsEnd(of: account)
    }

    /// The next message, `nil` at the end; the transport charges what it reserves to ``account``.
    ///
    /// The task-local is set around each read rather than once for the reading task: set once, it cost every
    /// idle connection a slab of its task's memory (1 KiB, measured at 10,000 connections), and the push and
    /// pop of every message cost less than that is worth.
    func next() async throws -> TerminalMessage? {
        try await InboundAccount.$current.withValue(account) { try await messages.next() }
    }

    /// The transport's iterator, its type erased by a subclass: one class-method call to reach it, where a
    /// closure over a box took two more `async` calls a message.
    private class Messages {
        func next() async throws -> TerminalMessage? { nil }
    }

    private final class Iterating<Iterator: AsyncIteratorProtocol>: Messages where Iterator.Element == TerminalMessage {
        var iterator: Iterator
        init(_ iterator: Iterator) { self.iterator = iterator }
        override func next() async throws -> TerminalMessage? { try await iterator.next() }
    }
}

/// A transport's input that lets the dispatcher's reader leave while nothing is ready to read, and wakes it
/// when something is: an idle connection then has no reader task at all.
///
/// A Swift task keeps every slab of memory its deepest stack took, for its life; a reader that waited for the
/// next message kept the slabs of the deepest handler it ran and of the transport's read, about 4 KiB per
/// idle connection (measured at 10,000 connections). The dispatcher parks only between messages.
package protocol InboundParking: Sendable {
    /// Returns `true` when nothing is ready to read, and keeps `wake` to call once, from any thread, when
    /// something is (a message's frame, the input's end, an error); returns `false` when something is ready
    /// now, or when the input cannot be left yet.
    func parkUnlessReady(wake: @escaping @Sendable () -> Void) -> Bool
    /// The dispatcher reads no more: what arrives from now on goes the transport's own way (its close
    /// handshake), and a `wake` kept is dropped.
    func readingEnded()
    /// An executor on the transport's own thread for this connection (an event loop), where a reader that
    /// resumes runs when the attached terminal's input handlers are quick (``QuickInputTerminal``): a message
    /// then reaches its terminal on the thread that read it, with no other thread woken. `nil` when the
    /// transport has none.
    var readerExecutor: (any TaskExecutor)? { get }
    /// Keeps `call` to call once, from the transport's thread, when input is queued while the reader runs a
    /// handler; returns `false`, keeping nothing, when input is queued already. For a reader on the
    /// transport's thread (``readerExecutor``): its handler holds the thread while it runs, so input can only
    /// arrive once it waits, and only then does the dispatcher need to watch it (``HandOverTimer``).
    func callWhenInputArrives(_ call: @escaping @Sendable () -> Void) -> Bool
    /// Drops the call kept by ``callWhenInputArrives(_:)``, if it has not been made.
    func stopCallingWhenInputArrives()
    /// Has the transport call ``InboundAccount/inputEnded()`` on the connection's account once its input ends
    /// (the client closed or went away), at once if it has already: a read waiting for memory then gives up,
    /// and what the connection holds is released, instead of after the whole wait.
    func endsMemoryWaitsAtTheInputsEnd(of account: InboundAccount)
}

/// An inbound sequence that may let its reader park (``InboundParking``); `parking` is `nil` when it cannot.
package protocol ParkableInbound {
    var parking: (any InboundParking)? { get }
}

/// Thrown by a ``ParkableInbound`` sequence's `next()` between messages, when its reader may park from now on
/// and nothing is ready: the reader parks (or, if input arrived meanwhile, reads on) instead of waiting.
package struct InboundReaderMayPark: Error {
    package init() {}
}
