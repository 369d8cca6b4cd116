#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import NIOCore
import Synchronization
import HTTPTypes

/// The client's end of one connection, as the server holds it: who the client is (identity, profile,
/// headers), sending to it one message at a time, closing it, and which terminal attachment is current.
/// Any task may use it without going through the ``ConnectionDispatcher`` actor.
final class ClientEndpoint: Sendable {
    let id: String
    let request: ConnectionRequest
    /// Who the caller is; set once, before the connection was served.
    let identity: AccessIdentity
    /// The API's logger, which ``logger`` is made from.
    private let apiLogger: Logger
    /// ``logger``, once made.
    private let madeLogger = Mutex<Logger?>(nil)
    let connectedAt = Date()
    private let transport: any TerminalTransport
    private let sendLock = AsyncLock()
    /// The generation of the attached terminal; a ``TerminalConnection`` of an older one is detached.
    let generation = Atomic<Int>(0)
    private let closed = Atomic<Bool>(false)
    /// Whether the attached terminal's messages are private (kept out of the console's content).
    let messagesArePrivate = Atomic<Bool>(false)
    private let mutable: Mutex<MutableState>
    /// Signalled when the connection starts closing (``waitUntilClosed()``).
    private let closing = OneTimeSignal()

    private struct MutableState {
        var headers: HTTPFields {
            didSet { customHeaders = headers.custom }
        }
        /// The custom ones among ``headers``, kept with them: every REST request a terminal makes carries them.
        var customHeaders: HTTPFields
        var currentTerminal = "none"
        var closeTask: Task<Void, Never>?
        /// The last text the terminal was given (``noteInput(_:)``), which an error may quote a part of.
        var lastInput: String?
    }

    /// Where the connection's events go (for `Switchboard.Admin.Console`).
    let events: NetworkEvents?
    /// Where the errors sent on the connection are logged (for `Switchboard.Admin.Error`).
    let errors: ErrorLog?
    /// Where messages and bytes are counted (`switchboard_websocket_messages_total`, ...).
    let metrics: SwitchboardMetrics?

    /// Whether the transport closed the connection for a server shutdown (``TerminalTransport/closedForShutdown``).
    var transportClosedForShutdown: Bool { transport.closedForShutdown }

    init(
        id: String, request: ConnectionRequest, transport: any TerminalTransport, logger: Logger, events: NetworkEvents? = nil,
        errors: ErrorLog? = nil, metrics: SwitchboardMetrics? = nil
    ) {
        self.metrics = metrics
        self.events = events
        self.errors = errors
        self.id = id
        self.request = request
        // `serve` authenticates before making the endpoint; a request without an identity gets no rights.
        self.identity = request.identity ?? .nobody
        self.transport = transport
        self.apiLogger = logger
        self.mutable = Mutex(MutableState(headers: request.headers, customHeaders: request.headers.custom))
    }

    /// A logger whose metadata carries the connection id (`sb.connection.id`). Made on first use: setting
    /// metadata renders it at once with some handlers (swift-log's `StreamLogHandler`), and most connections
    /// never log.
    var logger: Logger {
        madeLogger.withLock { made in
            if let made { return made }
            var logger = apiLogger
            logger[metadataKey: "sb.connection.id"] = .string(id)
            made = logger
            return logger
        }
    }

    var isClosed: Bool { closed.load(ordering: .acquiring) }

    /// The event loop the connection is served on, if its transport has one.
    var eventLoop: (any EventLoop)? { transport.eventLoop }

    var headers: HTTPFields {
        get { mutable.withLock { $0.headers } }
        set { mutable.withLock { $0.headers = newValue } }
    }

    /// The custom headers among ``headers`` (`HTTPFields.custom`).
    var customHeaders: HTTPFields { mutable.withLock { $0.customHeaders } }

    var currentTerminal: String {
        get { mutable.withLock { $0.currentTerminal } }
        set { mutable.withLock { $0.currentTerminal = newValue } }
    }

    var profile: ConnectionProfile {
        mutable.withLock { state in
            ConnectionProfile(
                host: request.host, webSocketId: id, isEncrypted: request.isEncrypted, clientIP: request.clientIP,
                connectedAt: connectedAt, currentTerminal: state.currentTerminal, customHeaders: state.customHeaders)
        }
    }

    /// Sends a message; with a generation, only while that attachment is current.
    ///
    /// This and ``send(utf8Text:generation:)`` are every message's way out, so they take the send lock and call
    /// the transport themselves: one `async` call deep, where a shared helper taking the write as a closure made
    /// it four.
    func send(_ message: TerminalMessage, generation expected: Int? = nil) async throws {
        try check(expected)
        await sendLock.lock()
        defer { sendLock.unlock() }
        try check(expected)
        do {
            try await transport.send(message)
        } catch {
            throw sendFailed(error)
        }
        sent(byteCount: message.byteCount, shown: message)
    }

    /// Sends UTF-8 bytes of whole characters as a text message, without making a `String` of them
    /// (``TerminalTransport/send(utf8Text:)``); with a generation, only while that attachment is current.
    func send(utf8Text: ByteBuffer, generation expected: Int? = nil) async throws {
        try check(expected)
        await sendLock.lock()
        defer { sendLock.unlock() }
        try check(expected)
        do {
            try await transport.send(utf8Text: utf8Text)
        } catch {
            throw sendFailed(error)
        }
        sent(byteCount: utf8Text.readableBytes, shown: .text(String(decoding: utf8Text.readableBytesView, as: UTF8.self)))
    }

    /// Counts a message written and shows it to the console (`shown` is made only while a console watches).
    private func sent(byteCount: Int, shown: @autoclosure () -> TerminalMessage) {
        metrics?.message(in: false, bytes: byteCount)
        events?.publish(self.event(.webSocketOutput, shown()))
    }

    /// The transport can no longer deliver: the peer has gone or the connection is closing.
    private func sendFailed(_ error: any Error) -> TerminalConnectionError {
        logger.debug("Send failed", metadata: ["error.type": "\(error)"])
        return .closed
    }

    /// Hands UTF-8 bytes of whole characters to the transport as a text message without waiting
    /// (``TerminalTransport/sendAtOnce(utf8Text:)``), when nothing else is being sent, the attachment is
    /// current and the transport can take it at once; returns whether it did. Counted and shown like
    /// ``send(utf8Text:generation:)``. Never waits: any thread may call it.
    func sendAtOnce(utf8Text: ByteBuffer, generation expected: Int?) -> Bool {
        guard (try? check(expected)) != nil, sendLock.tryLock() else { return false }
        defer { sendLock.unlock() }
        guard (try? check(expected)) != nil, transport.sendAtOnce(utf8Text: utf8Text) else { return false }
        sent(byteCount: utf8Text.readableBytes, shown: .text(String(decoding: utf8Text.readableBytesView, as: UTF8.self)))
        return true
    }

    /// After ``sendAtOnce(utf8Text:generation:)`` refused, asks the transport to call `resume` on the
    /// connection's event loop once it can write again (``TerminalTransport/callWhenWritable(_:)``), while the
    /// attachment is current; returns whether it will. Called on the connection's event loop.
    func callWhenWritable(_ resume: @escaping @Sendable () -> Void, generation expected: Int?) -> Bool {
        guard (try? check(expected)) != nil else { return false }
        return transport.callWhenWritable(resume)
    }

    /// Runs `body` within one run of messages sent together (``TerminalTransport/beginSendingTogether()``).
    nonisolated(nonsending) func sendingTogether<Result>(_ body: () async throws -> Result) async rethrows -> Result {
        transport.beginSendingTogether()
        defer { transport.endSendingTogether() }
        return try await body()
    }

    /// Sends one message written in parts (``TerminalTransport/sendMessage(binary:parts:)``); other output
    /// waits until it is whole.
    func sendMessage(binary: Bool, parts: any AsyncSequence<ByteBuffer, any Error>, generation expected: Int?) async throws {
        try check(expected)
        try await sendLock.withLock {
            try check(expected)
            let counter = PartCounter()
            do {
                try await transport.sendMessage(binary: binary, parts: CountedParts(base: parts, counter: counter))
            } catch {
                if let partsError = counter.partsError { throw partsError }
                logger.debug("Send failed", metadata: ["error.type": "\(error)"])
                throw TerminalConnectionError.closed
            }
            let (bytes, parts) = (counter.bytes.load(ordering: .relaxed), counter.parts.load(ordering: .relaxed))
            metrics?.message(in: false, bytes: bytes)
            events?.publish(
                NetworkEvent(
                    kind: .webSocketOutput, connectionID: id, clientIP: request.clientIP,
                    message: "Sent \(bytes) bytes\(binary ? " (binary)" : "") in \(parts) parts"))
        }
    }

    /// An event about this connection; for messages, "Sent n bytes" or "Received n bytes" with the text.
    func event(_ kind: NetworkEvent.Kind, _ message: TerminalMessage? = nil) -> NetworkEvent {
        var text: String
        var content: String?
        switch (kind, message) {
        case (.webSocketOpened, _):
            text = "WebSocket opened"
            content = request.uri
        case (.webSocketClosed, _): text = "WebSocket closed"
        case (_, .text(let body)?):
            text = "\(kind == .webSocketInput ? "Received" : "Sent") \(body.utf8.count) bytes"
            if messagesArePrivate.load(ordering: .relaxed) {
                text += " (private)"
            } else {
                content = body
            }
        case (_, .binary(let body)?):
            text = "\(kind == .webSocketInput ? "Received" : "Sent") \(body.readableBytes) bytes (binary)"
        default: text = kind.rawValue
        }
        return NetworkEvent(kind: kind, connectionID: id, clientIP: request.clientIP, message: text, content: content)
    }

    private func check(_ expected: Int?) throws(TerminalConnectionError) {
        if isClosed { throw .closed }
        if let expected, generation.load(ordering: .acquiring) != expected { throw .detached }
    }

    /// Sends a status line, naming the error's entry in `Switchboard.Admin.Error`; errors sending it are
    /// ignored (the connection is going away).
    func sendStatus(_ error: SwitchboardError, generation: Int? = nil, uri: String? = nil) async {
        try? await send(.text(logged(error, uri: uri).statusLine), generation: generation)
    }

    /// The error, logged for `Switchboard.Admin.Error` as one sent on this connection, in its current
    /// terminal (or at `uri`); the message is left out while the terminal's messages are private.
    func logged(_ error: SwitchboardError, uri: String? = nil) -> SwitchboardError {
        guard let errors else { return error }
        return errors.record(
            error, method: "WebSocket", uri: uri ?? currentTerminal, caller: identity.name, connectionID: id,
            messageIsPrivate: messagesArePrivate.load(ordering: .relaxed), input: mutable.withLock { $0.lastInput })
    }

    /// Keeps the text a terminal is about to be given, so that a key in it can be found if an error quotes a
    /// part of it (`/nosuch(<key>)` answered with `'nosuch(<the key up to its first ->'`). Nothing is kept of
    /// a private terminal's input, or of text too long to be a command.
    func noteInput(_ text: String) {
        let kept = text.utf8.count <= 4096 && !messagesArePrivate.load(ordering: .relaxed) ? text : nil
        mutable.withLock { $0.lastInput = kept }
    }

    /// Starts closing the connection, once: marks it closed, sends the close frame after any message being
    /// sent, and wakes ``waitUntilClosed()``.
    func close(code: CloseCode, reason: String) async {
        guard closed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            return
        }
        let reason = Self.truncatedReason(reason)
        let task = Task { [transport, sendLock] in
            do {
                try await sendLock.withLock { try await transport.close(code: code, reason: reason) }
            } catch {
                self.logger.trace("Close frame not sent", metadata: ["error.type": "\(error)"])
            }
        }
        mutable.withLock { $0.closeTask = task }
        closing.signal()
    }

    /// Marks the connection closed without sending anything (the peer went away).
    func markClosed() {
        closed.store(true, ordering: .releasing)
        closing.signal()
    }

    /// Returns once the connection has started closing, or ``endWaiting()`` was called. A continuation, not a
    /// stream: every connection's task waits here for as long as the connection lasts. A cancellation of the
    /// waiting task does not end it by itself: that takes a cancellation handler's frames in every idle
    /// connection's task, and the transport ends the input of a cancelled connection anyway (Hummingbird's
    /// WebSocket handler does); ``SwitchboardAPI/serve(_:inbound:transport:)`` calls ``endWaiting()`` on
    /// cancellation.
    func waitUntilClosed() async {
        await closing.wait()
    }

    /// Ends ``waitUntilClosed()`` without closing the connection (its task was cancelled).
    func endWaiting() {
        closing.signal()
    }

    /// Logs a debug message with ``logger``, made only when debug messages are logged: every connection logs
    /// its attachments.
    func debug(_ message: @autoclosure () -> Logger.Message, metadata: @autoclosure () -> Logger.Metadata? = nil) {
        guard apiLogger.logLevel <= .debug else { return }
        logger.debug(message(), metadata: metadata())
    }

    /// Waits (up to `timeout`) until the close frame has been handed to the transport.
    func waitForCloseFrame(timeout: Duration) async {
        guard let task = mutable.withLock({ $0.closeTask }) else { return }
        await withTimeout(timeout) { await task.value }
    }

    /// A close reason cut to the 123 bytes a close frame allows, at a character boundary.
    static func truncatedReason(_ reason: String) -> String {
        guard reason.utf8.count > 123 else { return reason }
        var result = ""
        for character in reason {
            if result.utf8.count + String(character).utf8.count > 120 { break }
            result.append(character)
        }
        return result + "..."
    }
}

/// Runs `body` in a new task and returns when it finishes or after `timeout`, whichever comes first. The
/// task is not cancelled when the time runs out; it is left to finish on its own.
func withTimeout(_ timeout: Duration, _ body: @escaping @Sendable () async -> Void) async {
    _ = try? await withTimeLimit(timeout, cancelling: false, body)
}

/// What a message written in parts has sent so far, and the error of its parts' source, if it failed.
final class PartCounter: Sendable {
    let bytes = Atomic<Int>(0)
    let parts = Atomic<Int>(0)
    private let failure = Mutex<(any Error)?>(nil)
    var partsError: (any Error)? { failure.withLock { $0 } }
    func failed(_ error: any Error) { failure.withLock { $0 = error } }
}

/// The parts of a message, counted; an error of the source is remembered, so that the sender can tell it
/// from the transport's.
struct CountedParts: AsyncSequence {
    typealias Element = ByteBuffer
    let base: any AsyncSequence<ByteBuffer, any Error>
    let counter: PartCounter

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: any AsyncIteratorProtocol<ByteBuffer, any Error>
        let counter: PartCounter
        mutating func next() async throws -> ByteBuffer? {
            do {
                guard let part = try await base.next() else { return nil }
                counter.bytes.add(part.readableBytes, ordering: .relaxed)
                counter.parts.add(1, ordering: .relaxed)
                return part
            } catch {
                counter.failed(error)
                throw error
            }
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), counter: counter) }
}
