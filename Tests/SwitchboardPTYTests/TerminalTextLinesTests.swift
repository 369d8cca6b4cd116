import NIOCore
import Testing

@testable import SwitchboardPTY

/// ``TerminalTextLines``: a terminal's output as the lines a line client shows.
@Suite struct TerminalTextLinesTests {
    /// The lines that `parts`, read one after the other, complete, and the part of a line left.
    static func lines(_ parts: [String]) -> (lines: [String], rest: String?) {
        var reader = TerminalTextLines()
        var lines: [String] = []
        for part in parts {
            lines += Array(part.utf8).withUnsafeBytes { reader.append($0) }.map { String(buffer: $0) }
        }
        return (lines, reader.takePartialLine().map { String(buffer: $0) })
    }

    @Test(
        arguments: [
            // Line breaks, and a line cut between two reads.
            (["one\ntwo\r\nthr", "ee\n"], ["one", "two", "three"], nil),
            (["\n\r\n"], ["", ""], nil),
            // bash's prompt with bracketed paste on, the echo of a command, and its output.
            (["\u{1B}[?2004hroot@vm:~# "], [], "root@vm:~# "),
            (["echo hi\r\n\u{1B}[?2004l\rhi\r\n"], ["echo hi", "hi"], nil),
            // Colours, a window title (OSC ended by BEL and by ST), a charset, a two-byte sequence, keypad mode.
            (["\u{1B}[01;34mdir\u{1B}[0m \u{1B}[31mred\u{1B}[m\n"], ["dir red"], nil),
            (["\u{1B}]0;title\u{07}a\u{1B}]2;t\u{1B}\\b\u{1B}(Bc\u{1B}7d\u{1B}=e\n"], ["abcde"], nil),
            // A sequence cut between two reads.
            (["x\u{1B}[3", "1my\u{1B}", "[0mz\n"], ["xyz"], nil),
            // A progress bar redraws itself with a carriage return: each state is a line. So is each row of a line
            // that readline wrapped at the terminal's width, without the space it wrapped with.
            (["10%\r20%\r30%\n"], ["10%", "20%", "30%"], nil),
            (["10%", "\r20%"], ["10%"], "20%"),
            (["echo 12345 \r67\r\n"], ["echo 12345", "67"], nil),
            (["   \rx\n"], ["x"], nil),
            // A backspace takes a character back, a whole one; other controls are dropped.
            (["ab\u{8}c\u{7}\u{0}\n", "é\u{8}e\n", "\u{8}\u{8}x\n"], ["ac", "e", "x"], nil),
            // Tabs are spaces to the next multiple of 8, counted in characters.
            (["a\tb\n", "é\tb\n", "12345678\tx\n", "\tx\n"], ["a       b", "é       b", "12345678        x", "        x"], nil),
            (["\t\tx\ty\n", "xé\u{8}ab\tc\n"], [String(repeating: " ", count: 16) + "x       y", "xab     c"], nil),
            // A character after ESC ends the sequence and is text; a line break in a sequence ends it too.
            (["a\u{1B}éb\n", "c\u{1B}[1\nd\n"], ["aéb", "c", "d"], nil),
            // A control string keeps what it holds, characters and line breaks, to its end.
            (["a\u{1B}]0;été\nx\u{07}b\n"], ["ab"], nil),
        ] as [([String], [String], String?)])
    func aTerminalsOutputIsReadAsItsLines(parts: [String], lines: [String], rest: String?) {
        let read = Self.lines(parts)
        #expect(read.lines == lines)
        #expect(read.rest == rest)
    }

    /// A line longer than ``TerminalTextLines/longestLine`` is cut there, never inside a character, so what
    /// is held stays bounded; the bytes are all there, in order.
    @Test func aLongLineIsCutAtACharacterStart() {
        let limit = TerminalTextLines.longestLine
        let text = "a" + String(repeating: "é", count: limit)  // an odd byte first: the limit falls inside a character
        let read = Self.lines([text, text, "\n"])
        #expect(read.lines.allSatisfy { $0.utf8.count <= limit })
        #expect(read.lines.allSatisfy { !$0.contains("\u{FFFD}") })
        #expect(read.lines.joined() == text + text)
        var reader = TerminalTextLines()
        let flood = Array(repeating: UInt8(ascii: "y"), count: 10 * limit)
        let lines = flood.withUnsafeBytes { reader.append($0) }
        #expect(lines.map(\.readableBytes) == Array(repeating: limit, count: 9))
        #expect(reader.takePartialLine()?.readableBytes == limit, "the tenth is held: it could go on")
    }

    /// What a read leaves of a line is held until it is taken; then what follows is a new line.
    @Test func thePartOfALineIsHeldUntilTaken() {
        var reader = TerminalTextLines()
        #expect(Array("$ ".utf8).withUnsafeBytes { reader.append($0) }.isEmpty)
        #expect(reader.hasPartialLine)
        #expect(reader.takePartialLine().map { String(buffer: $0) } == "$ ")
        #expect(!reader.hasPartialLine)
        #expect(reader.takePartialLine() == nil)
        let next = Array("ls\r\n".utf8).withUnsafeBytes { reader.append($0) }
        #expect(next.map { String(buffer: $0) } == ["ls"])
    }
}
