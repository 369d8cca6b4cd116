import NIOCore
import SwitchboardCore

/// A line client's PTY output (``PTYOutputForm/lines``): each line of output as one text message, as
/// ``TerminalTextLines`` reads it, and the rest of a line (a prompt) once the output has paused for
/// ``pause``.
///
/// The session's outbox calls ``deliver(_:)`` for one message at a time and waits for it, so the program is
/// held back for a slow client as in any other form; the lines of one delivery and a held line sent after
/// the pause go out in their order, one sender at a time.
actor PTYLineOutput {
    /// How long the output must pause before the rest of a line is sent without its line break. Output
    /// that comes sooner continues the line, so a line cut between two reads is one message.
    static let pause = Duration.milliseconds(20)

    private let connection: TerminalConnection
    private var lines = TerminalTextLines()
    /// Counts deliveries: a held line is sent after the pause only when none came meanwhile.
    private var deliveries = 0
    private var sending = false
    private var waitingToSend: [CheckedContinuation<Void, Never>] = []

    init(connection: TerminalConnection) { self.connection = connection }

    /// Sends the lines that `output` completes; a notice and a protocol message are lines of their own.
    func deliver(_ output: PTYOutput) async throws {
        deliveries &+= 1
        var texts: [ByteBuffer]
        switch output {
        case .output(let bytes):
            texts = bytes.withUnsafeReadableBytes { lines.append($0) }
        case .notice(let text):
            texts = lines.takePartialLine().map { [$0] } ?? []
            texts.append(ByteBuffer(string: "[switchboard: \(text)]"))
        case .verbatim(let text):
            texts = lines.takePartialLine().map { [$0] } ?? []
            texts += Array(text.utf8).withUnsafeBytes { lines.append($0) }
            if let rest = lines.takePartialLine() { texts.append(rest) }
        }
        try await send(texts)
        if lines.hasPartialLine { sendPartialLineAfterPause(following: deliveries) }
    }

    /// Sends the rest of a line now (the program has exited: nothing will complete it).
    func flush() async {
        guard let rest = lines.takePartialLine() else { return }
        try? await send([rest])
    }

    private func sendPartialLineAfterPause(following delivery: Int) {
        Task { [weak self] in
            try? await Task.sleep(for: Self.pause)
            await self?.sendPartialLine(ifLastDeliveryWas: delivery)
        }
    }

    private func sendPartialLine(ifLastDeliveryWas delivery: Int) async {
        guard deliveries == delivery, let rest = lines.takePartialLine() else { return }
        try? await send([rest])
    }

    /// Sends `lines` in order, after whoever is sending now: each at once while the connection takes it so,
    /// the rest waiting for room, all written together.
    private func send(_ lines: [ByteBuffer]) async throws {
        guard !lines.isEmpty else { return }
        while sending { await withCheckedContinuation { waitingToSend.append($0) } }
        sending = true
        defer {
            sending = false
            if !waitingToSend.isEmpty { waitingToSend.removeFirst().resume() }
        }
        // One write for the lines of a read, not one for each (a flood of short lines from `yes`).
        try await connection.sendingTogether {
            for line in lines where !connection.sendAtOnce(utf8Text: line) {
                try await connection.send(utf8Text: line)
            }
        }
    }
}
