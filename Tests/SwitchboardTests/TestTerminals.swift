import Foundation
import NIOCore
import Switchboard

enum Mode: String, CaseIterable, PropertyValue {
    case line, json
}

/// A terminal with a property of every supported type, and text commands that exercise the dispatcher.
actor Recorder: TextInputTerminal, PropertyCheckingTerminal {
    static let resourceName = "Tests.Recorder"
    static let resourceDescription = "Records and misbehaves on request"

    @Property var flag = false
    @Property(description: "A count") var count = 0
    @Property var ratio = 0.5
    @Property var label = "start"
    @Property var mode = Mode.line
    @Property var since: Date? = nil
    @Property var limit: Int? = 3
    @Property(readOnly: true) var status = "idle"

    private var hang: CheckedContinuation<Void, Never>?

    func open(_ connection: TerminalConnection) async throws {
        if label == "fail-open" { throw SwitchboardError(.conflict, code: .terminalError, "Refusing to open") }
    }

    func receive(text: String, from connection: TerminalConnection) async throws {
        switch text {
        case "fail": throw CocoaLikeError()
        case "reject": throw SwitchboardError(.conflict, code: .terminalError, "Not now")
        case "hang":
            status = "hanging"
            await withCheckedContinuation { hang = $0 }
            status = "released"
        case "sleep":
            status = "sleeping"
            try await Task.sleep(for: .seconds(3600))
        case "close": await connection.close(.status(409), reason: "bye")
        case _ where text.hasPrefix("pause "):
            // A slow handler: longer than the time the reader runs one itself before another task reads.
            try await Task.sleep(for: .milliseconds(Int(text.dropFirst(6)) ?? 0))
            try await connection.send("paused")
        case _ where text.hasPrefix("redirect "): try await connection.redirect(to: String(text.dropFirst(9)))
        default: try await connection.send("got: \(text)")
        }
    }

    func propertiesDidChange(_ changes: PropertyChanges, on connection: TerminalConnection) async throws {
        if label == "invalid" { throw SwitchboardError(.badRequest, code: .invalidPropertyValue, "Label may not be 'invalid'") }
    }

    func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {
        hang?.resume()
        hang = nil
        await Journal.shared.record("closed \(reason)")
    }
}

struct CocoaLikeError: Error, CustomStringConvertible {
    var description: String { "Something broke" }
}

/// What terminals did, for tests that check disposal.
actor Journal {
    static let shared = Journal()
    private(set) var entries: [String] = []
    private var waiters: [(String, CheckedContinuation<Void, Never>)] = []

    func record(_ entry: String) {
        entries.append(entry)
        let ready = waiters.filter { $0.0 == entry }
        waiters.removeAll { $0.0 == entry }
        for (_, waiter) in ready { waiter.resume() }
    }

    func count(_ entry: String) -> Int { entries.filter { $0 == entry }.count }

    /// Waits until `entry` has been recorded more than `after` times.
    func wait(for entry: String, after: Int) async {
        if count(entry) > after { return }
        await withCheckedContinuation { waiters.append((entry, $0)) }
    }
}

/// A second terminal whose name shares a suffix with Recorder's, for ambiguity tests.
actor OtherRecorder: TerminalResource {
    static let resourceName = "Other.Recorder"

    func open(_ connection: TerminalConnection) async throws {}
    func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {}
}

func makeAPI() -> SwitchboardAPI {
    let api = SwitchboardAPI()
    api.register { Recorder() }
    return api
}
