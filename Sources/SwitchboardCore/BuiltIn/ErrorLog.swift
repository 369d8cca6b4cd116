#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
import Synchronization
import NIOCore

/// One error that a client was answered with, as `Switchboard.Admin.Error` lists it.
///
/// It holds what an operator needs to find the cause, never what could carry a secret: no bodies, no
/// headers, no keys (a key right after the API root is taken out before anything sees the URI, and one anywhere else is
/// written `(redacted)`), no value of the request's body that the message quotes; the message of an error from a
/// terminal whose messages are private (a PTY: keystrokes carry passwords) is left out.
public struct ErrorEntry: Codable, Sendable {
    /// Counts up from 1 for the life of the server.
    public var id: Int
    /// When the error was answered.
    public var time: Date
    /// The REST method (`GET`, `POST`, ...), or `WebSocket` for an error sent on a connection outside a REST request.
    public var method: String
    /// The request's URI relative to the API root, or the terminal the connection was in.
    public var uri: String
    /// The status (`400`, `404`, `500`, ...).
    public var status: Int
    /// The error code (`InvalidConditionValue`, ...).
    public var errorCode: String
    /// The message the client got.
    public var message: String
    /// The name of the identity that made the request.
    public var caller: String
    /// The WebSocket connection, when the error came on one.
    public var connectionId: String?
}

/// The last errors answered to clients (``SwitchboardAPI/Configuration/errorLogSize`` of them), oldest
/// first out, for `Switchboard.Admin.Error`; recording one gives it the id that its status line names.
public final class ErrorLog: Sendable {
    private struct State {
        var entries: [ErrorEntry] = []
        var start = 0
        var nextID = 1
    }
    private let state = Mutex(State())
    /// The most entries kept; `0` keeps none (and status lines name no entry).
    public let capacity: Int

    /// The resource's name, as status lines refer to it.
    public static let resourceName = "Switchboard.Admin.Error"

    /// Takes out any key a caller put in the URI (`/api/shell(<key>)`), which the message may quote too.
    private let redactor: KeyRedactor

    init(capacity: Int, redactor: KeyRedactor) {
        self.capacity = max(0, capacity)
        self.redactor = redactor
    }

    /// Records an error and returns it with ``SwitchboardError/errorEntry`` set (unchanged when the log keeps nothing).
    /// - Parameters:
    ///   - input: The text the client sent that the error answers, when it is not the URI: a key in it is found
    ///     there whole, and taken out of the message even where the message quotes only a part of it.
    ///   - body: The request's body: the values in it that the message quotes are taken out
    ///     (``withoutValues(of:in:)``).
    func record(
        _ error: SwitchboardError, method: String, uri: String, caller: String, connectionID: String?, messageIsPrivate: Bool = false,
        input: String? = nil, body: ByteBuffer? = nil
    ) -> SwitchboardError {
        guard capacity > 0, error.errorEntry == nil else { return error }
        var error = error
        // The message may quote a part of a key that the URI or the input holds whole (the parser cut it at a
        // `-`). The URI is kept to 1,000 bytes, cut before a word so that no part of a key is left, and before
        // it is searched, so that a long one costs no more.
        let (uri, keysInURI) = redactor.redact(KeyRedactor.prefix(of: uri, bytes: 1000), fragmentsOf: [])
        let keys = keysInURI + (input.map { redactor.redact($0, fragmentsOf: []).keys } ?? [])
        let message =
            messageIsPrivate
            ? "(private: the terminal's messages are not logged)"
            : redactor.redact(body.map { Self.withoutValues(of: $0, in: error.message) } ?? error.message, fragmentsOf: keys).text
        state.withLock { state in
            let entry = ErrorEntry(
                id: state.nextID, time: Date(), method: method, uri: uri, status: error.status, errorCode: error.code.rawValue,
                message: message, caller: caller, connectionId: connectionID)
            error.errorEntry = state.nextID
            state.nextID += 1
            if state.entries.count < capacity {
                state.entries.append(entry)
            } else {
                state.entries[state.start] = entry
                state.start = (state.start + 1) % capacity
            }
        }
        return error
    }

    /// What replaces a value of the request's body in a message.
    static let bodyValue = "(a value of the body)"

    /// The message without the values of the body that it quotes: a body's values are the caller's data
    /// (a password that a resource's validation refused: `Invalid value "hunter2" for property 'Password'`),
    /// which the log never keeps. Each string, and each number of 4 characters or more, is looked for as the
    /// message would quote it: in JSON and cut as ``SwitchboardError/excerpt(_:)`` cuts it, in single quotes,
    /// and (4 characters or more) as it is. A body that is not JSON is quoted by no message (its syntax error
    /// says where, not what). At most the first 1,000 values are looked for.
    static func withoutValues(of body: ByteBuffer, in message: String) -> String {
        guard let value = try? JSON(parsing: String(decoding: body.readableBytesView, as: UTF8.self)) else { return message }
        var quoted: [String] = []
        func collect(_ value: JSON) {
            guard quoted.count < 4000 else { return }
            switch value {
            case .string(let text):
                let json = JSON.string(text).compact
                quoted += [SwitchboardError.excerpt(json), json, "'\(text)'"]
                if text.count >= 4 { quoted.append(text) }
            case .int, .double:
                let text = value.compact
                if text.count >= 4 { quoted += [SwitchboardError.excerpt(text), text] }
            case .array(let values): values.forEach(collect)
            case .object(let object): object.members.forEach { collect($0.1) }
            default: break
            }
        }
        collect(value)
        var message = message
        for text in quoted where !text.isEmpty && message.contains(text) {
            message = message.replacing(text, with: bodyValue)
        }
        return message
    }

    /// The entries kept, oldest first.
    public var entries: [ErrorEntry] {
        state.withLock { state in Array(state.entries[state.start...] + state.entries[..<state.start]) }
    }

    /// Forgets the entries with these ids; returns how many there were.
    func remove(ids: Set<Int>) -> Int {
        state.withLock { state in
            let kept = Array(state.entries[state.start...] + state.entries[..<state.start]).filter { !ids.contains($0.id) }
            let removed = state.entries.count - kept.count
            state.entries = kept
            state.start = 0
            return removed
        }
    }
}

/// `Switchboard.Admin.Error`: the last errors answered to clients. Administrators see every entry; a caller
/// granted this resource without being one sees its own. DELETE forgets the matched entries.
final class ErrorLogResource: EntityResource, Sendable {
    var resourceName: String { ErrorLog.resourceName }
    var resourceDescription: String? { "The last errors answered to clients, which their status lines name; DELETE forgets the matched ones" }
    var operations: EntityOperations { [.select, .delete] }
    private let log: ErrorLog

    init(log: ErrorLog) { self.log = log }

    func select(_ request: EntitySelectRequest) async throws -> EntitySelection<ErrorEntry> {
        guard let identity = request.caller.identity else { return .unfiltered([]) }
        let entries = log.entries
        return .unfiltered(identity.rights.isAdministrator ? entries : entries.filter { $0.caller == identity.name })
    }

    func delete(_ entities: [ErrorEntry], caller: RESTCaller) async throws -> Int {
        log.remove(ids: Set(entities.map(\.id)))
    }
}
