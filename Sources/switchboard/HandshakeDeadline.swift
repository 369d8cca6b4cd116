import Dispatch
import Foundation
import Synchronization

/// Ends `switchboard connect` when the server has not answered its upgrade within the limit.
///
/// swift-websocket's client waits for ever when a server ends the connection without answering the upgrade:
/// its channel keeps its output open after the input ends, and its upgrade handler does not look at the end of
/// the input. A TLS port asked with `ws://` does just that (it reads the request, finds no TLS, and closes),
/// as do servers that drop a request they refuse. The deadline runs on a dispatch queue, not on Swift's
/// concurrency pool, and exits the process (status 2) after `onExpiry` has put the terminal back.
final class HandshakeDeadline: Sendable {
    private let answered = Atomic<Bool>(false)

    /// Arms the deadline: unless ``upgraded()`` is called within `seconds`, `restore` puts the terminal back,
    /// the reason is written to standard error (``message(url:seconds:)``), and the process exits with status 2.
    init(url: String, seconds: Double, restore: @escaping @Sendable () -> Void) {
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
            guard !answered.load(ordering: .acquiring) else { return }
            restore()
            FileHandle.standardError.write(Data(Self.message(url: url, seconds: seconds).utf8))
            exit(2)
        }
    }

    /// The server answered the upgrade: the deadline no longer applies.
    func upgraded() { answered.store(true, ordering: .releasing) }

    /// What to tell the user when no answer came for `url` within `seconds`.
    static func message(url: String, seconds: Double) -> String {
        let limit = seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
        var message = "Could not connect to \(url): no answer to the WebSocket upgrade within \(limit) s"
        if url.lowercased().hasPrefix("ws://") {
            message += " (a server that takes TLS closes a ws:// request unanswered: is it wss://?)"
        } else {
            message += " (is it a WebSocket server, and is it busy?)"
        }
        return message + "; --connect-timeout sets the limit\n"
    }
}
