/// A connection's incoming messages, read by one task at a time.
///
/// The task that holds the dispatcher's reader role calls ``next()``; when a handler that task runs takes
/// too long, the role (and this reader, mid-stream) passes to a new task, under the dispatcher's lock, so
/// two tasks never read at once. It also holds the connection's ``InboundAccount``.
final class InboundReader: @unchecked Sendable {
    let account: InboundAccount
    private let messages: Messages

    init<Inbound: AsyncSequence & Sendable>(_ inbound: Inbound, account: InboundAccount) where Inbound.Element == TerminalMessage {
        messages = Iterating(inbound.makeAsyncIterator())
        self.account = account
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
