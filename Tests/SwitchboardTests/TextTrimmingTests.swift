import SwitchboardCore
import Testing

/// Trimming a command cuts ASCII white space as bytes, and splitting it at its first white space looks at
/// bytes while they are ASCII; both must cut exactly where characters would.
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
            // A command's argument is trimmed as a piece of the command.
            let command = "GET " + text
            let argument = command[command.utf8.index(command.startIndex, offsetBy: 3)...]
            #expect(argument.trimmingWhitespace() == Self.trimmedByCharacters(String(argument)), "\(Array(text.unicodeScalars))")
        }
    }

    /// Splitting by characters, the way the Shell first split a command from its argument.
    static func splitByCharacters(_ text: String) -> (word: String, rest: String) {
        let word = String(text.prefix { !$0.isWhitespace })
        return (word, String(text.dropFirst(word.count)))
    }

    @Test(arguments: [
        ("GET /x//limit=10", "GET", " /x//limit=10"),
        ("GET", "GET", ""),
        ("/x\t1", "/x", "\t1"),
        // A space followed by a combining mark is one white-space character: the word ends before it.
        ("ab \u{301}c", "ab", " \u{301}c"),
        // A prepended character joins the space after it: not white space, so the word goes on.
        ("a\u{600} b", "a\u{600} b", ""),
        ("é\u{A0}x", "é", "\u{A0}x"),
    ])
    func splitsWhereCharactersSplit(text: String, word: String, rest: String) {
        let split = text.splitAtFirstWhitespace()
        #expect(String(split.word) == word && String(split.rest) == rest)
        #expect(Self.splitByCharacters(text) == (word, rest))
    }

    @Test func splitAgreesWithCharactersOnEveryShortMix() {
        let pieces = [" ", "\t", "\r", "\n", "a", "/", "\u{301}", "\u{600}", "\u{A0}", "\u{2003}", "é"]
        var texts = [""]
        for _ in 0..<4 { texts = texts + texts.flatMap { text in pieces.map { text + $0 } } }
        for text in Set(texts) {
            let split = text.splitAtFirstWhitespace()
            let expected = Self.splitByCharacters(text)
            #expect(String(split.word) == expected.word && String(split.rest) == expected.rest, "\(Array(text.unicodeScalars))")
        }
    }

    @Test func whiteSpaceIsFoundWhereCharactersFindIt() {
        let pieces = [" ", "\t", "\r", "\n", "a", "/", "\u{301}", "\u{600}", "\u{A0}", "\u{2003}", "é"]
        var texts = [""]
        for _ in 0..<4 { texts = texts + texts.flatMap { text in pieces.map { text + $0 } } }
        for text in Set(texts) {
            #expect(text.containsWhitespace == text.contains(where: \.isWhitespace), "\(Array(text.unicodeScalars))")
        }
    }

    /// Text messages are made strings through an ASCII fast path: every byte that is not ASCII, at every
    /// offset of the sixteen-byte scan and of the bytes after it, takes the full validation, which refuses
    /// what is not UTF-8 as `String(validating:)` does.
    @Test func textIsValidatedWhereverItsFirstNonASCIIByteFalls() {
        let pieces: [[UInt8]] = [Array("é".utf8), Array("€".utf8), Array("😀".utf8), [0xFF], [0xC3], [0x80], [0xED, 0xA0, 0x80], [0x7F]]
        for length in 0..<40 {
            let plain = Array(repeating: UInt8(ascii: "x"), count: length)
            plain.withUnsafeBytes { #expect(String(validatingUTF8: $0) == String(repeating: "x", count: length)) }
            for piece in pieces {
                let bytes = plain + piece + Array("tail".utf8)
                bytes.withUnsafeBytes { buffer in
                    #expect(String(validatingUTF8: buffer) == String(validating: bytes, as: UTF8.self), "\(bytes)")
                    #expect(buffer.isASCII == bytes.allSatisfy { $0 < 0x80 })
                    #expect(buffer.isValidUTF8 == (String(validating: bytes, as: UTF8.self) != nil), "\(bytes)")
                }
            }
        }
    }

    /// PTY output is checked for UTF-8 in place (`isValidUTF8`), and must agree with `String(validating:)` on
    /// everything: every sequence of one and two bytes, every lead and second byte followed by the bytes that
    /// border the continuation range, and each of those at every offset around the sixteen-byte ASCII scan.
    @Test func utf8IsCheckedInPlaceAsTheStandardLibraryChecksIt() {
        func agree(_ bytes: [UInt8]) -> Bool {
            bytes.withUnsafeBytes { $0.isValidUTF8 } == (String(validating: bytes, as: UTF8.self) != nil)
        }
        var disagreements: [[UInt8]] = []
        for first in 0...255 {
            if !agree([UInt8(first)]) { disagreements.append([UInt8(first)]) }
            for second in 0...255 where !agree([UInt8(first), UInt8(second)]) {
                disagreements.append([UInt8(first), UInt8(second)])
            }
        }
        let borders: [UInt8] = [0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF]
        for lead in 0xC0...0xFF {
            for second in borders {
                for third in borders {
                    for fourth in borders {
                        let bytes = [UInt8(lead), second, third, fourth]
                        for cut in 3...4 where !agree(Array(bytes.prefix(cut))) { disagreements.append(Array(bytes.prefix(cut))) }
                    }
                }
            }
        }
        for offset in 0..<34 {
            for piece in [Array("é".utf8), Array("€".utf8), Array("😀".utf8), [0xE0, 0x80, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF0, 0x9F]] {
                let bytes = Array(repeating: UInt8(ascii: "a"), count: offset) + piece + Array(repeating: UInt8(ascii: "b"), count: 17)
                if !agree(bytes) { disagreements.append(bytes) }
                if !agree(Array(bytes.prefix(offset + piece.count))) { disagreements.append(Array(bytes.prefix(offset + piece.count))) }
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(5))")
    }
}
