#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
import HTTPTypes
import Synchronization

/// Something that happened on the network: a WebSocket opened, closed, received or sent a message, or an
/// HTTP request was answered.
public struct NetworkEvent: Sendable {
    /// What happened.
    public enum Kind: String, Sendable {
        case webSocketOpened = "WebSocketOpened"
        case webSocketClosed = "WebSocketClosed"
        case webSocketInput = "WebSocketInput"
        case webSocketOutput = "WebSocketOutput"
        case httpRequest = "HTTPRequestResponse"
    }
    /// What happened.
    public var kind: Kind
    /// The WebSocket connection's id; `nil` for HTTP.
    public var connectionID: String?
    /// The client's IP address.
    public var clientIP: String
    /// A one-line description: "WebSocket opened", "Received 12 bytes", "GET /superhero → 200".
    public var message: String
    /// The text of a text message, or the URI of an HTTP request.
    public var content: String?
    /// The request's duration, for HTTP.
    public var elapsedMilliseconds: Double?
    /// When it happened.
    public var time: Date
    /// The instance where it happened, for an event another instance of the cluster sent; `nil` for this
    /// instance's own.
    public var instance: String?

    public init(
        kind: Kind, connectionID: String?, clientIP: String, message: String, content: String? = nil,
        elapsedMilliseconds: Double? = nil, time: Date = Date()
    ) {
        self.kind = kind
        self.connectionID = connectionID
        self.clientIP = clientIP
        self.message = message
        self.content = content
        self.elapsedMilliseconds = elapsedMilliseconds
        self.time = time
    }
}

extension NetworkEvent {
    /// The most of a message's text an event carries, in UTF-8 bytes: a feed for people, where a 16 MB message
    /// in one line helps nobody and costs its escaping and its keys' redaction in proportion.
    public static let contentLimit = 4096

    /// The text cut at a character's start within ``contentLimit`` bytes, and how long it was. A word the cut
    /// falls in is left out whole: its first part could be the start of a key, too short to be known as one.
    static func shortened(_ text: String) -> String {
        KeyRedactor.prefix(of: text, bytes: contentLimit) + "… (\(text.utf8.count) bytes)"
    }
}

/// The feed of ``NetworkEvent``s that `Switchboard.Admin.Console` shows.
///
/// Publishing costs one atomic load while nobody listens. Each listener gets a bounded buffer (the newest
/// 1,000 events); a listener that falls behind loses the oldest. Events of listening connections are never
/// published, so consoles do not log themselves or each other.
public final class NetworkEvents: Sendable {
    private struct Listener {
        let connectionID: String?
        let continuation: AsyncStream<NetworkEvent>.Continuation
    }
    private let listeners = Mutex<(next: Int, all: [Int: Listener])>((0, [:]))
    private let listenerCount = Atomic<Int>(0)
    /// Takes out any key a caller put in a URI or a message before anybody is shown it.
    private let redactor: KeyRedactor
    /// The keys found in each connection's events, whose parts its later events may quote.
    private let keysSeen = Mutex<[String: [String]]>([:])

    init(redactor: KeyRedactor) { self.redactor = redactor }

    /// Whether anybody listens.
    public var hasListeners: Bool { listenerCount.load(ordering: .relaxed) > 0 }

    /// How many connections listen (consoles; the cluster's own listener is not one).
    var watcherCount: Int { listeners.withLock { $0.all.values.count { $0.connectionID != nil } } }

    /// Publishes an event; `make` runs only when somebody listens.
    public func publish(_ make: @autoclosure () -> NetworkEvent) {
        guard hasListeners else { return }
        var event = make()
        if let content = event.content, content.utf8.count > NetworkEvent.contentLimit {
            // Headers are found in JSON that is whole (``withoutSecretHeaderValues(_:)``): a long answer that
            // shows them (HEADERS, #INFO) is not shown at all, rather than cut with a value left in it.
            event.content =
                content.contains("Headers")
                ? "(\(content.utf8.count) bytes that hold headers: not shown)" : NetworkEvent.shortened(content)
        }
        redactKeys(in: &event)
        let targets = listeners.withLock { state -> [AsyncStream<NetworkEvent>.Continuation] in
            // Connection ids are per instance: another instance's event is never a console's own.
            if event.instance == nil, let id = event.connectionID, state.all.values.contains(where: { $0.connectionID == id }) { return [] }
            return state.all.values.map(\.continuation)
        }
        for target in targets { target.yield(event) }
    }

    /// Takes keys out of an event. A connection's answers may quote a part of a key that its input held
    /// whole (`/nosuch(<key>)` answered with `'nosuch(<the key up to its first ->'`): the keys found in a
    /// connection's events are kept until it closes (a few per connection, for the last connections that
    /// had any), and their parts taken out of its later events.
    private func redactKeys(in event: inout NetworkEvent) {
        let known = event.connectionID.map { id in keysSeen.withLock { $0[id] ?? [] } } ?? []
        let message = redactor.redact(event.message, fragmentsOf: known)
        let content = event.content.map { redactor.redact($0, fragmentsOf: known) }
        event.message = message.text
        event.content = content.map { Self.withoutSecretHeaderValues($0.text) }
        guard event.instance == nil, let id = event.connectionID else { return }
        let found = message.keys + (content?.keys ?? [])
        if event.kind == .webSocketClosed {
            keysSeen.withLock { _ = $0.removeValue(forKey: id) }
        } else if !found.isEmpty {
            keysSeen.withLock { seen in
                if seen[id] == nil && seen.count >= 256 { seen.removeAll() }
                seen[id, default: []] = Array((seen[id, default: []] + found).suffix(4))
            }
        }
    }

    /// The text with the values of headers that look like credentials (``HTTPFields/looksSecret(_:)``)
    /// written `(redacted)`, as `Switchboard.Admin.WebSocket` lists them: in the Shell's `HEADER X-Api-Key = …`,
    /// in `#INFO {"CustomHeaders": {…}}`, and in the answers that show them (`HEADERS`, `#INFO`: a JSON object's
    /// `Headers` or `CustomHeaders`).
    static func withoutSecretHeaderValues(_ text: String) -> String {
        let trimmed = text.trimmingWhitespace()
        if trimmed.count > 7, trimmed.prefix(7).uppercased() == "HEADER ", let equals = trimmed.firstIndex(of: "=") {
            let name = String(trimmed[trimmed.index(trimmed.startIndex, offsetBy: 7)..<equals]).trimmingWhitespace()
            return HTTPFields.looksSecret(name) ? String(trimmed[...equals]) + " (redacted)" : text
        }
        guard text.contains("Headers"), let brace = text.firstIndex(of: "{"),
            case .object(var object)? = try? JSON(parsing: String(text[brace...]))
        else { return text }
        var redacted = false
        for member in ["Headers", "CustomHeaders"] {
            guard case .object(let headers)? = object[member] else { continue }
            object[member] = .object(
                JSONObject(
                    headers.members.map { name, value in
                        guard HTTPFields.looksSecret(name), value != .null else { return (name, value) }
                        redacted = true
                        return (name, "(redacted)")
                    }))
        }
        guard redacted else { return text }
        let json = JSON.object(object)
        return String(text[..<brace]) + (text.contains("\n") ? json.prettyPrinted : json.compact)
    }

    /// Starts listening. The stream ends when the task that iterates it is cancelled or ``stopListening(_:)``.
    /// - Parameter connectionID: The listening connection, whose own events are then not published.
    func listen(from connectionID: String?) -> (id: Int, events: AsyncStream<NetworkEvent>) {
        let (stream, continuation) = AsyncStream.makeStream(of: NetworkEvent.self, bufferingPolicy: .bufferingNewest(1000))
        let id = listeners.withLock { state in
            state.next += 1
            state.all[state.next] = Listener(connectionID: connectionID, continuation: continuation)
            return state.next
        }
        listenerCount.add(1, ordering: .relaxed)
        continuation.onTermination = { [weak self] _ in self?.stopListening(id) }
        return (id, stream)
    }

    func stopListening(_ id: Int) {
        let removed = listeners.withLock { $0.all.removeValue(forKey: id) }
        if let removed {
            listenerCount.subtract(1, ordering: .relaxed)
            removed.continuation.finish()
        }
    }
}
