/// A connection's incoming messages, read by one task at a time.
///
/// The task that holds the dispatcher's reader role calls ``next()``; when a handler that task runs takes
/// too long, the role (and this reader, mid-stream) passes to a new task, under the dispatcher's lock, so
/// two tasks never read at once. It also holds the connection's ``InboundAccount``.
final class InboundReader: @unchecked Sendable {
    let account: InboundAccount
    private let nextMessage: () async throws -> TerminalMessage?

    init<Inbound: AsyncSequence & Sendable>(_ inbound: Inbound, account: InboundAccount) where Inbound.Element == TerminalMessage {
        let box = IteratorBox(inbound.makeAsyncIterator())
        self.account = account
        nextMessage = { try await box.iterator.next() }
    }

    /// The next message, `nil` at the end; the transport charges what it reserves to ``account``.
    func next() async throws -> TerminalMessage? {
        try await InboundAccount.$current.withValue(account) { try await nextMessage() }
    }

    private final class IteratorBox<Iterator: AsyncIteratorProtocol> {
        var iterator: Iterator
        init(_ iterator: Iterator) { self.iterator = iterator }
    }
}
