import NIOCore
import Synchronization

/// A terminal attached to a connection now, with its connection.
public struct LiveTerminal<Terminal: TerminalResource>: Sendable {
    /// The terminal instance.
    public let terminal: Terminal
    /// Its connection: send to it, read its profile and identity.
    public let connection: TerminalConnection
}

/// A terminal of some type opened or closed (``SwitchboardAPI/terminalEvents(of:)``).
public enum TerminalEvent<Terminal: TerminalResource>: Sendable {
    /// The terminal was attached and its ``TerminalResource/open(_:)`` returned.
    case opened(LiveTerminal<Terminal>)
    /// The terminal is being closed (the connection left it or closed); its ``TerminalResource/close(_:on:)``
    /// runs next.
    case closed(LiveTerminal<Terminal>, TerminalCloseReason)
}

/// The live terminals of every connection, and who listens to them opening and closing.
final class TerminalRegistry: Sendable {
    private struct Listener {
        let yield: @Sendable (any TerminalResource, TerminalConnection, TerminalCloseReason?) -> Void
        let finish: @Sendable () -> Void
    }
    private let listeners = Mutex<(next: Int, all: [Int: Listener])>((0, [:]))
    private let listenerCount = Atomic<Int>(0)

    func opened(_ terminal: any TerminalResource, on connection: TerminalConnection) {
        publish(terminal, connection, nil)
    }

    func closed(_ terminal: any TerminalResource, on connection: TerminalConnection, reason: TerminalCloseReason) {
        publish(terminal, connection, reason)
    }

    private func publish(_ terminal: any TerminalResource, _ connection: TerminalConnection, _ reason: TerminalCloseReason?) {
        guard listenerCount.load(ordering: .relaxed) > 0 else { return }
        for listener in listeners.withLock({ Array($0.all.values) }) { listener.yield(terminal, connection, reason) }
    }

    func listen<T: TerminalResource>(to type: T.Type) -> AsyncStream<TerminalEvent<T>> {
        let (stream, continuation) = AsyncStream.makeStream(of: TerminalEvent<T>.self, bufferingPolicy: .bufferingNewest(1000))
        let listener = Listener(
            yield: { terminal, connection, reason in
                guard let terminal = terminal as? T else { return }
                let live = LiveTerminal(terminal: terminal, connection: connection)
                continuation.yield(reason.map { .closed(live, $0) } ?? .opened(live))
            }, finish: { continuation.finish() })
        let id = listeners.withLock { state in
            state.next += 1
            state.all[state.next] = listener
            return state.next
        }
        listenerCount.add(1, ordering: .relaxed)
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            if self.listeners.withLock({ $0.all.removeValue(forKey: id) }) != nil { self.listenerCount.subtract(1, ordering: .relaxed) }
        }
        return stream
    }
}

extension SwitchboardAPI {
    /// The terminals of a type that are open on a connection now, across every connection (RESTable's
    /// terminal collection). A terminal is listed once its ``TerminalResource/open(_:)`` has returned, and no
    /// longer once the connection has left it.
    ///
    /// ```swift
    /// let rooms = api.terminals(of: ChatRoom.self)
    /// ```
    public func terminals<T: TerminalResource>(of type: T.Type) -> [LiveTerminal<T>] {
        liveDispatchers.compactMap { dispatcher in
            guard let attachment = dispatcher.openAttachment, let terminal = attachment.terminal as? T else { return nil }
            return LiveTerminal(terminal: terminal, connection: attachment.connection)
        }
    }

    /// Sends one message to the connection of every open terminal of a type that `include` accepts (RESTable's
    /// combined terminals), all at once, and returns to how many it went. A connection that is gone or has
    /// left the terminal meanwhile is skipped.
    /// - Parameters:
    ///   - message: The text or binary message.
    ///   - type: The terminal type.
    ///   - excluded: A connection left out (the sender's own, typically).
    ///   - include: Picks the terminals, by their state (`{ await $0.room == "lobby" }`).
    @discardableResult
    public func broadcast<T: TerminalResource>(
        _ message: TerminalMessage, to type: T.Type, except excluded: TerminalConnection? = nil,
        where include: @escaping @Sendable (T) async -> Bool = { _ in true }
    ) async -> Int {
        await deliver(message, to: type, exceptID: excluded?.id, where: include)
    }

    /// Sends a text message to every open terminal of a type that `include` accepts; see
    /// ``broadcast(_:to:except:where:)-(TerminalMessage,_,_,_)``.
    @discardableResult
    public func broadcast<T: TerminalResource>(
        _ text: String, to type: T.Type, except excluded: TerminalConnection? = nil,
        where include: @escaping @Sendable (T) async -> Bool = { _ in true }
    ) async -> Int {
        await broadcast(.text(text), to: type, except: excluded, where: include)
    }

    /// The terminals of a type being opened and closed, from now on, until the task iterating the stream is
    /// cancelled. A listener that falls more than 1,000 events behind loses the oldest.
    ///
    /// ```swift
    /// for await event in api.terminalEvents(of: ChatRoom.self) {
    ///     if case .opened(let room) = event { print("\(room.connection.id) joined") }
    /// }
    /// ```
    public func terminalEvents<T: TerminalResource>(of type: T.Type) -> AsyncStream<TerminalEvent<T>> {
        terminalRegistry.listen(to: type)
    }
}
