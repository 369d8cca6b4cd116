import NIOCore

/// What a program writes to its terminal, as the lines a line client shows: one line per message, without
/// the line break, the escape sequences and the other control characters.
///
/// A line client (wscat, `python -m websockets`, wsdump, `switchboard connect --line`) prints each message
/// on a line of its own. Given a terminal's output as it comes, it shows the escape sequences as garbage
/// (`python -m websockets` prints them escaped, `\x1b[?2004h`, wscat hands them to the user's terminal in the
/// middle of its own lines) and a line cut between two reads as two lines. So for such a client the output is
/// read here the way a terminal would show it, line by line:
///
/// - a line break (`\n`, `\r\n`) ends a line;
/// - a carriage return alone, with text after it, ends a line too, without its trailing spaces: each state
///   of a progress bar that redraws itself is a line, and so is each row of a line that readline wrapped at
///   the terminal's width (with a space and a carriage return); a line of nothing but spaces is dropped;
/// - a backspace takes the last character back;
/// - a tab is spaces up to the next column that is a multiple of 8, as a terminal shows it (`ls` lines its
///   columns up with tabs, and `python -m websockets` would print them as `\t`);
/// - escape sequences (CSI `ESC [ … final`, OSC `ESC ] … BEL or ST`, DCS, SOS, PM and APC strings, and the
///   short `ESC` sequences) and the other C0 controls are dropped;
/// - a line longer than ``longestLine`` bytes is cut there (at a character's start), so no output grows
///   what is held without bound.
///
/// The rest of a line without its break (a prompt) is held until more comes or its owner takes it
/// (``takePartialLine()``), when the output pauses. The lines of one read are slices of one buffer: a flood of
/// short lines (`yes`) costs no allocation per line. The output it reads is whole, valid UTF-8 characters (the
/// session's), and so are the lines: what it drops is ASCII, or whole characters inside a control string, and
/// a byte that cannot continue an escape sequence ends it and is read as text.
struct TerminalTextLines {
    /// The most bytes a line may hold before it is sent as it is.
    static let longestLine = 16 << 10

    private enum State {
        case text
        /// After `ESC`.
        case escape
        /// After `ESC` and an intermediate byte (`ESC ( B`): one final byte ends it.
        case escapeIntermediate
        /// In a control sequence (`ESC [`), until its final byte.
        case controlSequence
        /// In a control string (`ESC ]`, `ESC P`, `ESC X`, `ESC ^`, `ESC _`), until `BEL` or `ESC \`.
        case controlString
        /// After `ESC` in a control string.
        case controlStringEscape
    }

    /// The part of a line that the last read left without its break.
    private var held: [UInt8] = []
    private var state = State.text
    /// A carriage return came, and no line break after it: text that follows starts a new line.
    private var returned = false

    /// Whether part of a line is held.
    var hasPartialLine: Bool { !held.isEmpty }

    /// Reads more output; returns the lines it completes, in order.
    mutating func append(_ bytes: UnsafeRawBufferPointer) -> [ByteBuffer] {
        var reader = Reader(held: held, capacity: bytes.count)
        held.removeAll(keepingCapacity: true)
        var index = 0
        while index < bytes.count {
            // Text between controls is copied a run at a time.
            if state == .text {
                var end = index
                while end < bytes.count, bytes[end] >= 0x20, bytes[end] != 0x7F { end += 1 }
                if end > index {
                    put(UnsafeRawBufferPointer(rebasing: bytes[index..<end]), into: &reader)
                    index = end
                    continue
                }
            }
            read(bytes[index], into: &reader)
            index += 1
        }
        held = reader.takeRest()
        return reader.lines()
    }

    /// The part of a line held (a prompt, or text the program is still writing), if there is any; what comes
    /// next starts a new message.
    mutating func takePartialLine() -> ByteBuffer? {
        guard !held.isEmpty else { return nil }
        defer { held.removeAll(keepingCapacity: held.count <= 1024) }
        return ByteBuffer(bytes: held)
    }

    /// One byte that is not plain text: a control, or a byte of an escape sequence.
    private mutating func read(_ byte: UInt8, into reader: inout Reader) {
        switch state {
        case .text:
            switch byte {
            case 0x0A:
                reader.endLine()
                returned = false
            case 0x0D: returned = true
            case 0x1B: state = .escape
            case 0x08: reader.takeBackOneCharacter()
            case 0x09:
                let spaces: [UInt8] = Array(repeating: UInt8(ascii: " "), count: 8 - reader.columns() % 8)
                spaces.withUnsafeBytes { put($0, into: &reader) }
            case 0x00...0x1F, 0x7F: break
            default: withUnsafeBytes(of: byte) { put($0, into: &reader) }
            }
        case .escape:
            switch byte {
            case UInt8(ascii: "["): state = .controlSequence
            case UInt8(ascii: "]"), UInt8(ascii: "P"), UInt8(ascii: "X"), UInt8(ascii: "^"), UInt8(ascii: "_"): state = .controlString
            case 0x20...0x2F: state = .escapeIntermediate
            case 0x30...0x7E: state = .text  // a two-byte sequence: ESC 7, ESC =, ESC M …
            default: endSequence(readingAsText: byte, into: &reader)
            }
        case .escapeIntermediate:
            switch byte {
            case 0x20...0x2F: break
            case 0x30...0x7E: state = .text
            default: endSequence(readingAsText: byte, into: &reader)
            }
        case .controlSequence:
            switch byte {
            case 0x20...0x3F: break
            case 0x40...0x7E: state = .text
            default: endSequence(readingAsText: byte, into: &reader)
            }
        case .controlString:
            if byte == 0x07 { state = .text } else if byte == 0x1B { state = .controlStringEscape }
        case .controlStringEscape:
            state = byte == UInt8(ascii: "\\") ? .text : .controlString
        }
    }

    /// A byte that cannot continue an escape sequence (a line break, a character) ends it, and is read as text.
    private mutating func endSequence(readingAsText byte: UInt8, into reader: inout Reader) {
        state = .text
        read(byte, into: &reader)
    }

    /// Text: whole characters, or the rest of one and more.
    private mutating func put(_ text: UnsafeRawBufferPointer, into reader: inout Reader) {
        if returned {
            reader.endLineAfterReturn()
            returned = false
        }
        var text = text
        // A line that would grow past the longest is cut at a character's start.
        while reader.lineLength + text.count > Self.longestLine {
            var cut = max(0, Self.longestLine - reader.lineLength)
            while cut > 0, cut < text.count, text[cut] & 0xC0 == 0x80 { cut -= 1 }
            if cut == 0, reader.lineLength == 0 {
                // One character longer than a line: impossible for UTF-8; kept whole all the same.
                cut = 1
                while cut < text.count, text[cut] & 0xC0 == 0x80 { cut += 1 }
            }
            reader.write(UnsafeRawBufferPointer(rebasing: text[0..<cut]))
            reader.endLine()
            text = UnsafeRawBufferPointer(rebasing: text[cut...])
        }
        reader.write(text)
    }

    /// One read's lines, written one after the other into one buffer, and where each ends.
    private struct Reader {
        private var buffer: ByteBuffer
        private var lineStart = 0
        private var ends: [Int] = []
        /// The columns of the line up to `end`, counted for the last tab: a line of tabs is counted once.
        private var counted = (end: 0, columns: 0)

        init(held: [UInt8], capacity: Int) {
            buffer = ByteBuffer()
            buffer.reserveCapacity(held.count + capacity + 16)
            buffer.writeBytes(held)
        }

        var lineLength: Int { buffer.writerIndex - lineStart }

        /// The characters of the line so far, each counted as one column.
        mutating func columns() -> Int {
            if counted.end < lineStart { counted = (lineStart, 0) }
            let added = buffer.withUnsafeReadableBytes { bytes in
                bytes[counted.end..<bytes.count].reduce(0) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) }
            }
            counted = (buffer.writerIndex, counted.columns + added)
            return counted.columns
        }

        mutating func write(_ bytes: UnsafeRawBufferPointer) { buffer.writeBytes(bytes) }

        mutating func endLine() {
            ends.append(buffer.writerIndex)
            lineStart = buffer.writerIndex
        }

        /// A carriage return and text after it: the line so far ends, without its trailing spaces, unless
        /// nothing else is left of it.
        mutating func endLineAfterReturn() {
            var end = buffer.writerIndex
            while end > lineStart, buffer.getInteger(at: end - 1, as: UInt8.self) == UInt8(ascii: " ") { end -= 1 }
            buffer.moveWriterIndex(to: end)
            counted = (lineStart, 0)
            if end > lineStart { endLine() }
        }

        /// Drops the line's last character, if it has one.
        mutating func takeBackOneCharacter() {
            var end = buffer.writerIndex
            guard end > lineStart else { return }
            end -= 1
            while end > lineStart, let byte = buffer.getInteger(at: end, as: UInt8.self), byte & 0xC0 == 0x80 { end -= 1 }
            buffer.moveWriterIndex(to: end)
            counted = (lineStart, 0)
        }

        /// The line not ended, which the next read continues.
        mutating func takeRest() -> [UInt8] {
            let rest = buffer.getBytes(at: lineStart, length: lineLength) ?? []
            buffer.moveWriterIndex(to: lineStart)
            return rest
        }

        /// The lines ended, as slices of the one buffer.
        func lines() -> [ByteBuffer] {
            var start = 0
            return ends.map { end in
                defer { start = end }
                return buffer.getSlice(at: start, length: end - start)!
            }
        }
    }
}
