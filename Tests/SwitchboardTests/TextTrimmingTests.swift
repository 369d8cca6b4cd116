import SwitchboardCore
import Testing

/// Trimming a command cuts ASCII white space as bytes; it must cut exactly what trimming by characters cuts.
@Suite
struct TextTrimmingTests {
    /// Trimming by characters, the way it was defined first.
    static func trimmedByCharacters(_ text: String) -> String {
        guard let first = text.firstIndex(where: { !$0.isWhitespace }), let last = text.lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return String(text[first...last])
    }

    @Test(arguments: [
        ("GET /x//limit=10", "GET /x//limit=10"),
        ("  GET /x \t\r\n", "GET /x"),
        ("\r\n", ""),
        ("", ""),
        // A space followed by a combining mark is one white-space character.
        (" \u{301}abc", "abc"),
        ("abc \u{301}", "abc"),
        // A prepended character joins the space after it into one character that is not white space.
        ("x\u{600} ", "x\u{600} "),
        ("\u{A0}a\u{2003}", "a"),
        (" é ", "é"),
    ])
    func cutsWhatCharactersCut(text: String, expected: String) {
        #expect(text.trimmingWhitespace() == expected)
        #expect(Self.trimmedByCharacters(text) == expected)
    }

    @Test func agreesWithCharactersOnEveryShortMix() {
        // Every string of up to four of these pieces: ASCII white space, letters, combining marks, a
        // prepended character, non-ASCII white space.
        let pieces = [" ", "\t", "\r", "\n", "a", "/", "\u{301}", "\u{600}", "\u{A0}", "\u{2003}", "é"]
        var texts = [""]
        for _ in 0..<4 { texts = texts + texts.flatMap { text in pieces.map { text + $0 } } }
        for text in Set(texts) {
            #expect(text.trimmingWhitespace() == Self.trimmedByCharacters(text), "\(Array(text.unicodeScalars))")
        }
    }
}
