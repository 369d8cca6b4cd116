import Foundation
import NIOCore
import Switchboard
import SwitchboardCore
import Testing

@Suite struct JSONTests {
    @Test func parsesAndPrintsInOrder() throws {
        let json = try JSON(parsing: #" {"b": 1, "a": [true, null, "x\n\u00e9\ud83d\ude00"], "c": {"d": -2.5e1}} "#)
        #expect(json.compact == #"{"b":1,"a":[true,null,"x\né😀"],"c":{"d":-25}}"#)
        #expect(try JSON(parsing: json.prettyPrinted) == json)
    }

    @Test func prettyPrintsWithTwoSpaces() {
        let json: JSON = ["Name": "x", "List": [1, 2], "Empty": [:]]
        #expect(json.prettyPrinted == "{\n  \"Name\": \"x\",\n  \"List\": [\n    1,\n    2\n  ],\n  \"Empty\": {}\n}")
    }

    @Test func escapesControlCharacters() throws {
        #expect(JSON.string("a\u{1}b\"\\").compact == #""a\u0001b\"\\""#)
        #expect(JSON.string("\u{1B}[1m\r\n\t\u{8}\u{C}\u{1F}\u{7F}").compact == #""\u001b[1m\r\n\t\b\f\u001f\u007f""#)
        #expect(JSON.string("plain é € 😀").compact == #""plain é € 😀""#, "nothing to escape: appended whole")
        #expect(JSON.string("\"").compact == #""\"""#)
        #expect(JSON.string("").compact == #""""#)
        let mixed = "x\u{0}y\u{7F}zé\n"
        #expect(try JSON(parsing: JSON.string(mixed).compact) == .string(mixed), "every escape parses back")
    }

    /// Strings are scanned sixteen bytes at a time, then eight: every byte to escape, at every offset of a
    /// block, of a word after it and in the bytes after that, comes out as the escape a byte-by-byte writer
    /// makes, and reads back as the text.
    @Test func stringsAreEscapedWhereverTheBytesToEscapeFall() throws {
        let pieces = (0..<0x20).map { String(UnicodeScalar(UInt8($0))) } + ["\"", "\\", "a", "é", "€", "😀", "/", "\u{7F}", " "]
        var texts = pieces.flatMap { piece in (0..<40).map { String(repeating: "x", count: $0) + piece + "tail" } }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            texts.append((0..<Int.random(in: 0..<60, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined())
        }
        texts.append(String(repeating: "plain text without anything to escape ", count: 100))
        for text in texts {
            let compact = JSON.string(text).compact
            #expect(compact == Self.escapedByteByByte(text), "\(text.debugDescription)")
            #expect(try JSONDecoder().decode(String.self, from: Data(compact.utf8)) == text)
            let tagged = Array(text.utf8).withUnsafeBytes { JSON.compactTaggedText(tag: "stdout", utf8: $0) }
            #expect(String(buffer: tagged) == JSON.array(["stdout", .string(text)]).compact)
        }
    }

    /// Escapes are written straight into the room left beyond the text; text whose every byte becomes an
    /// escape of two or six bytes outgrows that room many times over and still prints whole, at every length
    /// around a block and in long runs.
    @Test func textThatGrowsSixfoldWhenEscapedPrintsWhole() throws {
        var texts = (0..<70).map { String(repeating: "\u{1}", count: $0) } + (0..<70).map { String(repeating: "\r\n", count: $0) }
        texts += [String(repeating: "\u{1B}", count: 100_000), String(repeating: "a\"\u{7F}\\é\t", count: 20_000)]
        for text in texts {
            let compact = JSON.string(text).compact
            #expect(compact == Self.escapedByteByByte(text), "\(text.utf8.count) bytes")
            let tagged = Array(text.utf8).withUnsafeBytes { JSON.compactTaggedText(tag: "stdout", utf8: $0) }
            #expect(String(buffer: tagged) == "[\"stdout\",\(compact)]", "\(text.utf8.count) bytes")
        }
    }

    /// The writer's buffer starts small and doubles: documents of every size around its first capacities
    /// print whole, pretty and compact.
    @Test func documentsLargerThanTheFirstBufferPrintWhole() throws {
        for count in [0, 1, 50, 60, 61, 62, 120, 121, 122, 250, 500, 2_000] {
            let json = JSON.array((0..<count).map { .object(["n": .int($0), "s": .string(String(repeating: "é", count: $0 % 7))]) })
            #expect(try JSON(parsing: json.prettyPrinted) == json)
            #expect(try JSON(parsing: json.compact) == json)
            let long = JSON.string(String(repeating: "0123456789abcde\n", count: count * 10))
            #expect(try JSON(parsing: long.compact) == long)
        }
    }

    /// An object that keeps its printed form (the in-memory store's entities) prints as it would without it,
    /// at every depth and in both styles; a change of a copy's members drops the copy's form, not the original's.
    @Test func objectsKeepingTheirPrintedFormPrintAsTheyWouldWithout() throws {
        let plain: JSONObject = [
            "Name": "Spider-Man", "Quote": "with \"great\" power\n\t… \u{7F}", "Year": 1962, "Rating": 4.5,
            "Home": ["City": "New York", "Tags": ["a", 1, .null, [:], []]], "Empty": [:], "List": [["x": 1]],
        ]
        let kept = plain.keepingPrintedForm()
        #expect(kept == plain)
        #expect(kept.hashValue == plain.hashValue)
        let documents: [(JSON) -> JSON] = [
            { $0 }, { [$0] }, { ["Data": [$0, $0], "DataCount": 2] }, { [["Data": [$0]]] }, { [[["deep": [$0, "after"]]]] },
        ]
        for document in documents {
            #expect(document(.object(kept)).prettyPrinted == document(.object(plain)).prettyPrinted)
            #expect(document(.object(kept)).compact == document(.object(plain)).compact)
        }
        let changes: [(inout JSONObject) -> Void] = [
            { $0["Year"] = 1963 }, { $0["Home"] = nil }, { $0["Added"] = [1, 2] }, { $0["Name"] = "Peter" },
        ]
        for change in changes {
            var changed = kept
            change(&changed)
            #expect(JSON.object(changed).prettyPrinted == JSON.object(JSONObject(changed.members)).prettyPrinted)
            #expect(JSON.object(changed).prettyPrinted != JSON.object(plain).prettyPrinted)
        }
        #expect(JSON.object(kept).prettyPrinted == JSON.object(plain).prettyPrinted)

        // An object large enough to keep an index of its members keeps it beside the printed form.
        let largePlain = JSONObject((0..<40).map { ("k\($0)", JSON.int($0)) })
        var large = largePlain.keepingPrintedForm()
        let before = large
        #expect(large["k39"] == .int(39))
        large["k5"] = nil
        large["new"] = true
        #expect(large["k6"] == .int(6))
        #expect(large["k5"] == nil)
        #expect(large["new"] == true)
        #expect(try JSON(parsing: JSON.object(large).prettyPrinted) == .object(large))
        #expect(before["k5"] == .int(5))
        #expect(JSON.object(before).prettyPrinted == JSON.object(largePlain).prettyPrinted)
    }

    @Test func fractionsPrintAsTheirShortestForm() {
        // Thousandths (every elapsed time) take a path of their own; everything else is `description`'s.
        var values: [Double] = [0.001, 0.012, 0.1, 0.5, 2.675, 12.345, 999_999_999.999, -0.001, -3.5, 1e9 - 0.5]
        values += stride(from: -5_000, through: 5_000, by: 7).map { Double($0) / 1000 }
        values += (0..<2_000).map { _ in Double(Int.random(in: -999_999_999_999...999_999_999_999)) / 1000 }
        values += [0.0001, 0.00001, 1.0 / 3, 0.1 + 0.2, 1e9 + 0.5, 1e12 + 0.25, 2.000_000_1, -1e-7, 123_456.789_5]
        for value in values where value != value.rounded() {
            #expect(JSON.double(value).compact == value.description, "\(value)")
            #expect(JSON.array([.double(value)]).prettyPrinted == "[\n  \(value.description)\n]")
        }
    }

    /// What a writer that looks at one byte at a time makes of `text`.
    private static func escapedByteByByte(_ text: String) -> String {
        var escaped = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case "\t": escaped += "\\t"
            case "\u{8}": escaped += "\\b"
            case "\u{C}": escaped += "\\f"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                escaped += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped + "\""
    }

    @Test(arguments: [
        ("{", "expected a member name in double quotes but found end of input", 2),
        ("{\"a\" 1}", "expected ':' after member name \"a\" but found '1'", 6),
        ("[1,]", "expected a value but found ']'", 4),
        ("[1 2]", "expected ',' or ']' in array but found '2'", 4),
        ("tru", "invalid literal; expected 'true'", 4),
        ("01", "invalid number; leading zeros are not allowed", 2),
        ("\"abc", "unterminated string", 5),
        ("\"\\x\"", "invalid escape '\\x'", 2),
        ("\"\\ud800\"", "unpaired high surrogate \\ud800", 8),
        ("{\"a\":1,\"a\":2}", "duplicate member name \"a\"", 12),
        ("1 2", "unexpected '2' after the value", 3),
        ("", "expected a value but found end of input", 1),
    ])
    func reportsSyntaxErrorsWithPositions(text: String, reason: String, position: Int) {
        #expect(throws: JSONSyntaxError(reason: reason, position: position)) { try JSON(parsing: text) }
    }

    @Test func limitsNesting() {
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: JSONSyntaxError.self) { try JSON(parsing: deep) }
        let fine = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(throws: Never.self) { try JSON(parsing: fine) }
        let huge = String(repeating: "{\"a\":", count: 100_000)
        #expect(throws: JSONSyntaxError.self) { try JSON(parsing: huge) }
    }

    @Test func keepsIntegersAndDoublesApart() throws {
        #expect(try JSON(parsing: "3") == .int(3))
        #expect(try JSON(parsing: "3.5") == .double(3.5))
        #expect(throws: JSONSyntaxError(reason: "number out of range", position: 6)) { try JSON(parsing: "1e400") }
    }

    @Test func printsEveryNumberAsSwiftWould() {
        for value in [0, 7, -7, 10, -10, 1_234_567_890, Int.max, Int.min] {
            #expect(JSON.int(value).compact == String(value))
        }
        #expect(JSON.double(2).compact == "2")
        #expect(JSON.double(-0.5).compact == "-0.5")
        #expect(JSON.double(1e20).compact == String(1e20))
        #expect(JSON.double(.nan).compact == "null")
        #expect(JSON.array([.int(-1), .string("é😀"), .null]).prettyPrinted == "[\n  -1,\n  \"é😀\",\n  null\n]")
    }
}

/// Large objects parse in linear time: the parser's duplicate check and every lookup go through an index
/// once an object is large (they were linear scans, which made parsing quadratic: 48 s for 869 KB).
/// The time limit is a guard against that regression, not a measurement.
@Suite(.timeLimit(.minutes(1))) struct LargeJSONTests {
    static func object(members: Int, duplicateAt: Int? = nil) -> String {
        var text = "{"
        for index in 0..<members {
            if index > 0 { text += "," }
            text += "\"member\(duplicateAt == index ? 0 : index)\":\(index)"
        }
        return text + "}"
    }

    @Test func aHundredThousandMembersKeepTheirOrderAndAreFoundByName() throws {
        let text = Self.object(members: 100_000)
        guard case .object(let object) = try JSON(parsing: text) else { throw TestFailure("not an object") }
        #expect(object.count == 100_000)
        #expect(object.members.first?.key == "member0")
        #expect(object.members.last?.key == "member99999")
        #expect(object["member54321"] == .int(54321))
        #expect(try JSON(parsing: JSON.object(object).compact) == .object(object))
    }

    @Test func aDuplicateFarIntoALargeObjectIsFound() throws {
        #expect(throws: JSONSyntaxError.self) { try JSON(parsing: Self.object(members: 100_000, duplicateAt: 99_999)) }
    }

    @Test func removingAndReplacingMembersKeepsTheIndexRight() {
        var object = JSONObject((0..<40).map { ("k\($0)", JSON.int($0)) })
        object["k5"] = nil
        object["k39"] = .string("last")
        object["new"] = .bool(true)
        #expect(object.count == 40)
        #expect(object["k6"] == .int(6))
        #expect(object["k5"] == nil)
        #expect(object["k39"] == .string("last"))
        #expect(object.members.last?.key == "new")
        for _ in 0..<30 { object[object.members[0].key] = nil }
        #expect(object.count == 10)
        #expect(object["new"] == .bool(true))
    }
}

struct TestFailure: Error {
    let description: String
    init(_ description: String) { self.description = description }
}
