import Testing

@testable import SwitchboardTestSupport

@testable import switchboard

/// The line editor of `switchboard connect`, byte by byte, as a terminal in raw mode sends them.
@Suite struct LineEditorTests {
    /// Feeds bytes and returns the events they completed.
    @discardableResult
    static func type(_ bytes: [UInt8], into editor: inout LineEditor) -> [String] {
        bytes.compactMap { byte in
            switch editor.handle(byte) {
            case .line(let line)?: "line:" + line
            case .endOfInput?: "end"
            case .interrupt?: "interrupt"
            case nil: nil
            }
        }
    }

    static func keys(_ text: String) -> [UInt8] { Array(text.utf8) }
    static let left: [UInt8] = [0x1B, 0x5B, 0x44]
    static let up: [UInt8] = [0x1B, 0x5B, 0x41]
    static let down: [UInt8] = [0x1B, 0x5B, 0x42]
    static let delete: [UInt8] = [0x1B, 0x5B, 0x33, 0x7E]

    @Test func editsInTheMiddleOfTheLine() {
        var editor = LineEditor()
        Self.type(Self.keys("GET /hero") + Self.left + Self.left + Self.left + Self.left + Self.keys("super"), into: &editor)
        #expect(editor.line == "GET /superhero")
        #expect(editor.cursor == 10)
        Self.type([0x7F] + Self.delete, into: &editor)  // Backspace, then Delete
        #expect(editor.line == "GET /supeero")
        Self.type([0x01] + Self.keys("x") + [0x05] + Self.keys("!"), into: &editor)  // ^A x, ^E !
        #expect(editor.line == "xGET /supeero!")
        Self.type([0x17], into: &editor)  // ^W deletes the word before the cursor
        #expect(editor.line == "xGET ")
        Self.type([0x01, 0x0B], into: &editor)  // ^A ^K
        #expect(editor.line == "")
    }

    @Test func enterSendsAndHistoryRecallsWithoutRepeats() {
        var editor = LineEditor()
        #expect(Self.type(Self.keys("one\rtwo\rtwo\r"), into: &editor) == ["line:one", "line:two", "line:two"])
        #expect(editor.history == ["one", "two"])
        Self.type(Self.up, into: &editor)
        #expect(editor.line == "two")
        Self.type(Self.up + Self.up, into: &editor)
        #expect(editor.line == "one", "stops at the oldest")
        Self.type(Self.down + Self.down, into: &editor)
        #expect(editor.line == "", "past the newest: an empty line")
        Self.type([0x10], into: &editor)  // ^P
        #expect(Self.type([0x0D], into: &editor) == ["line:two"])
    }

    @Test func utf8ArrivesByteByByteAndControlKeysEndOrInterrupt() {
        var editor = LineEditor()
        Self.type(Self.keys("é→"), into: &editor)
        #expect(editor.line == "é→")
        #expect(editor.cursor == 2, "two characters, five bytes")
        Self.type([0xFF, 0xFE, 0xFD, 0xFC], into: &editor)  // not UTF-8: dropped after four bytes
        Self.type(Self.keys("!"), into: &editor)
        #expect(editor.line == "é→!")
        #expect(Self.type([0x03], into: &editor) == ["interrupt"])
        #expect(Self.type([0x04], into: &editor) == [], "^D with text deletes, it does not end")
        editor = LineEditor()
        #expect(Self.type([0x04], into: &editor) == ["end"])
    }

    @Test func drawsTheLineAndPutsTheCursorBack() {
        var editor = LineEditor()
        Self.type(Self.keys("abc") + Self.left, into: &editor)
        #expect(editor.rendered(prompt: "> ") == "\r\u{1B}[K> abc\u{1B}[1D")
    }
}

/// What `switchboard connect` shows on a terminal of a message or a close reason that holds control
/// characters: shown, not obeyed, so that a server (or another user whose text a terminal relays) cannot drive
/// the user's terminal.
@Suite struct ConsoleVisibleTextTests {
    @Test(arguments: [
        ("plain text, é ✓", "plain text, é ✓"),
        ("two\nlines\tand a tab", "two\nlines\tand a tab"),
        ("crlf\r\nline", "crlf\nline"),
        ("hello \u{1B}]0;pwned\u{7}\u{1B}[2Jworld", "hello ^[]0;pwned^G^[[2Jworld"),
        ("\u{1B}]52;c;ZXZpbA==\u{7}", "^[]52;c;ZXZpbA==^G"),
        ("over\rwrite", "over^Mwrite"),
        ("del\u{7F} c1\u{9B}31m", "del^? c1\\u{9B}31m"),
        ("\u{0}", "^@"),
    ])
    func controlCharactersAreShownNotObeyed(text: String, shown: String) {
        #expect(Console.visible(text) == shown)
    }
}
