/// The line being typed at `switchboard connect`: editing keys, history and UTF-8 input, as a value that
/// takes one input byte at a time and says when a line is complete. The console draws it.
///
/// Keys: Enter sends the line; Left/Right, Home/End, ^A/^E, ^B/^F move; Backspace, Delete, ^D, ^U, ^K and
/// ^W delete; Up/Down and ^P/^N walk the history; ^C interrupts; ^D on an empty line ends the input.
struct LineEditor {
    /// The characters of the line.
    private(set) var buffer: [Character] = []
    /// Where the next character goes, from 0 to `buffer.count`.
    private(set) var cursor = 0
    /// The lines sent, oldest first, without repeats in a row.
    private(set) var history: [String] = []
    private var historyIndex = 0
    /// The bytes of a UTF-8 character that is not complete yet.
    private var pending: [UInt8] = []
    /// The bytes of an escape sequence being read.
    private var escape: [UInt8] = []

    /// The line as it is drawn: the prompt and the text on a cleared line, the cursor moved back into place.
    func rendered(prompt: String) -> String {
        var text = "\r\u{1B}[K" + prompt + String(buffer)
        let back = buffer.count - cursor
        if back > 0 { text += "\u{1B}[\(back)D" }
        return text
    }

    /// The line typed so far.
    var line: String { String(buffer) }

    /// Applies one input byte to the editor; returns an event when a line is complete or input ends.
    mutating func handle(_ byte: UInt8) -> InputEvent? {
        if !escape.isEmpty || byte == 0x1B {
            escape.append(byte)
            let sequence = escape
            if sequence.count == 2 && sequence[1] != UInt8(ascii: "[") && sequence[1] != UInt8(ascii: "O") {
                escape = []
            } else if sequence.count >= 3, (0x40...0x7E).contains(byte) {
                escape = []
                switch (sequence[2], byte) {
                case (UInt8(ascii: "A"), _): recall(-1)
                case (UInt8(ascii: "B"), _): recall(1)
                case (UInt8(ascii: "C"), _): cursor = min(buffer.count, cursor + 1)
                case (UInt8(ascii: "D"), _): cursor = max(0, cursor - 1)
                case (UInt8(ascii: "H"), _), (UInt8(ascii: "1"), UInt8(ascii: "~")): cursor = 0
                case (UInt8(ascii: "F"), _), (UInt8(ascii: "4"), UInt8(ascii: "~")): cursor = buffer.count
                case (UInt8(ascii: "3"), UInt8(ascii: "~")):
                    if cursor < buffer.count { buffer.remove(at: cursor) }
                default: break
                }
            }
            return nil
        }
        switch byte {
        case 0x0D, 0x0A:
            let line = String(buffer)
            if !line.isEmpty && history.last != line { history.append(line) }
            historyIndex = history.count
            buffer = []
            cursor = 0
            return .line(line)
        case 0x03: return .interrupt
        case 0x04:
            if buffer.isEmpty { return .endOfInput }
            if cursor < buffer.count { buffer.remove(at: cursor) }
        case 0x7F, 0x08:
            if cursor > 0 {
                buffer.remove(at: cursor - 1)
                cursor -= 1
            }
        case 0x01: cursor = 0
        case 0x05: cursor = buffer.count
        case 0x02: cursor = max(0, cursor - 1)
        case 0x06: cursor = min(buffer.count, cursor + 1)
        case 0x15:
            buffer.removeFirst(cursor)
            cursor = 0
        case 0x0B: buffer.removeLast(buffer.count - cursor)
        case 0x17:
            var start = cursor
            while start > 0 && buffer[start - 1] == " " { start -= 1 }
            while start > 0 && buffer[start - 1] != " " { start -= 1 }
            buffer.removeSubrange(start..<cursor)
            cursor = start
        case 0x10: recall(-1)
        case 0x0E: recall(1)
        case _ where byte < 0x20: break
        default:
            pending.append(byte)
            if let text = String(validating: pending, as: UTF8.self) {
                pending = []
                for character in text {
                    buffer.insert(character, at: cursor)
                    cursor += 1
                }
            } else if pending.count >= 4 {
                pending = []
            }
        }
        return nil
    }

    private mutating func recall(_ step: Int) {
        let index = historyIndex + step
        guard index >= 0, index <= history.count else { return }
        historyIndex = index
        buffer = index == history.count ? [] : Array(history[index])
        cursor = buffer.count
    }
}

/// What the user typed: a line, the end of input (^D, or the end of a pipe), or ^C.
enum InputEvent: Sendable {
    case line(String)
    case endOfInput
    case interrupt
}
