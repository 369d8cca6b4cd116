import Switchboard
import Testing

@testable import SwitchboardCore

@Suite struct ResourceURITests {
    @Test func splitsResourceConditionsAndMetaConditions() throws {
        let uri = try ResourceURI(parsing: "/superhero/year>1950&name!=Bob/limit=2")
        #expect(uri.resourceName == "superhero")
        #expect(uri.conditions == [.init(key: "year", op: .greaterThan, value: "1950"), .init(key: "name", op: .notEqual, value: "Bob")])
        #expect(uri.metaConditions == [.init(key: "limit", op: .equal, value: "2")])
    }

    @Test(arguments: [
        ("a=1", ConditionOperator.equal, "1"), ("a!=1", .notEqual, "1"), ("a<1", .lessThan, "1"), ("a>1", .greaterThan, "1"),
        ("a<=1", .lessThanOrEqual, "1"), ("a>=1", .greaterThanOrEqual, "1"), ("a%3E1", .greaterThan, "1"),
        ("a%3c=1", .lessThanOrEqual, "1"), ("a==1", .equal, "=1"), ("a=x=y", .equal, "x=y"), ("a=", .equal, ""),
    ])
    func readsEveryOperator(piece: String, op: ConditionOperator, value: String) throws {
        let uri = try ResourceURI(parsing: "/r/" + piece)
        #expect(uri.conditions == [.init(key: "a", op: op, value: value)])
    }

    /// An ASCII URI is cut by its bytes: the same pieces as cutting by characters, for every string of up to six
    /// of the pieces that matter. A non-ASCII one is cut by characters, so a separator that a combining mark
    /// follows stays in its piece, as before.
    @Test func cuttingByBytesGivesTheCharactersPieces() throws {
        let alphabet = ["a", "/", "&", "?", "_", "="]
        var texts = [""]
        for _ in 0..<6 { texts = texts.flatMap { text in alphabet.map { text + $0 } } + texts }
        for text in Set(texts) {
            for separator in [UInt8(ascii: "/"), UInt8(ascii: "&")] {
                #expect(
                    ResourceURI.split(Substring(text), at: separator, ascii: true)
                        == ResourceURI.split(Substring(text), at: separator, ascii: false), "\(text)")
            }
        }
        let combining = try ResourceURI(parsing: "/hero/name=a/\u{301}b")
        #expect(combining.resourceName == "hero" && combining.conditions.map(\.value) == ["a/\u{301}b"])
        let plain = try ResourceURI(parsing: "/hero/name=a&year>1950/limit=2?")
        #expect(plain.resourceName == "hero" && plain.conditions.count == 2 && plain.metaConditions.count == 1)
    }

    /// A plain URI (printable ASCII, no `%`) is read in one pass over its bytes: the same URI as the general
    /// parser makes, and `nil` wherever that parser refuses it (which then says why), for every string of up to
    /// five of the characters that matter, with and without a leading `/`.
    @Test func theFastWayReadsPlainURIsAsTheGeneralParserDoes() {
        let alphabet = ["a", "/", "&", "?", "_", "=", "!", "<", ">", " "]
        var texts = [""]
        for _ in 0..<5 { texts = texts.flatMap { text in alphabet.map { text + $0 } } + texts }
        var differences: [String] = []
        for text in Set(texts) {
            for raw in [text, "/" + text, "/r/" + text] {
                let fast = raw.utf8.withContiguousStorageIfAvailable(ResourceURI.parsePlain) ?? nil
                let general = try? ResourceURI(parsingAnyURI: raw)
                if fast != general { differences.append(raw) }
            }
        }
        #expect(differences.isEmpty, "\(differences.prefix(10))")
        // Escapes and other characters go the general way.
        for raw in ["/a%2Eb", "/caf\u{E9}", "/r/name=a\tb"] {
            #expect(raw.utf8.withContiguousStorageIfAvailable(ResourceURI.parsePlain) ?? nil == nil)
        }
    }

    @Test func splitsTheRawPathBeforeDecoding() throws {
        let uri = try ResourceURI(parsing: "/shell/query=%2Fecho%2Fprefix%3Dx%26y&autoget=true")
        #expect(uri.conditions.map(\.key) == ["query", "autoget"])
        #expect(uri.conditions[0].value == "/echo/prefix=x&y")
        #expect(try ResourceURI(parsing: "/a%2Eb").resourceName == "a.b")
        #expect(try ResourceURI(parsing: "/r/name=a+b").conditions[0].value == "a+b")
    }

    @Test func acceptsQueryStringsPlaceholdersAndTrailingSlashes() throws {
        #expect(try ResourceURI(parsing: "/echo?prefix=x").conditions == [.init(key: "prefix", op: .equal, value: "x")])
        #expect(try ResourceURI(parsing: "echo/prefix=x/").conditions.count == 1)
        #expect(try ResourceURI(parsing: "/echo/_/_").conditions.isEmpty)
        #expect(try ResourceURI(parsing: "/").resourceName == "")
        #expect(try ResourceURI(parsing: "").resourceName == "")
        #expect(try ResourceURI(parsing: "/_").resourceName == "")
    }

    @Test(arguments: [
        ("/a/b=1/c=2/d", 400, "has 4 segments"),
        ("/a/b=1&&c=2", 400, "empty condition"),
        ("/a/b=1&", 400, "empty condition"),
        ("/a/=1", 400, "has no property name"),
        ("/a/novalue", 400, "invalid condition 'novalue'"),
        ("/a/b%ZZ=1", 400, "invalid percent-encoding"),
        // A raw '%' with a combining mark is one character, but still a '%' that must start an escape.
        ("/a/b=%\u{301}", 400, "invalid percent-encoding"),
        ("/a/b=%E2%28", 400, "does not decode to valid UTF-8"),
        ("/a/b=%00", 400, "NUL character"),
        ("/a\u{1}", 400, "control character U+0001"),
        ("/a b", 400, "white space"),
        ("/a/b=1?c=2", 400, "both in the path and after '?'"),
        ("/a/b%20c=1", 400, "contains white space"),
        ("/" + String(repeating: "x", count: 9000), 414, "the limit is 8192"),
    ])
    func rejectsMalformedURIs(raw: String, status: Int, fragment: String) {
        do {
            _ = try ResourceURI(parsing: raw)
            Issue.record("Parsed \(raw)")
        } catch {
            #expect(error.status == status)
            #expect(error.message.contains(fragment), "\(error.message)")
        }
    }

    @Test func encodesSoThatParsingRoundTrips() throws {
        let value = "a/b&c=d?e f%g#h>"
        let uri = ResourceURI(resourceName: "R", conditions: [.init(key: "k", op: .equal, value: value)])
        #expect(try ResourceURI(parsing: uri.description).conditions[0].value == value)
    }

    /// Every byte a name or value can hold: the unreserved ones (and `<`, `>`, `=`, `!` in a value) as they
    /// are, every other byte as `%` and two uppercase hex digits; parsing gives a value back.
    @Test func encodesEveryByteAsPercentEncodingSays() throws {
        let unreserved = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~',:@$*+()\"".utf8)
        func expected(_ text: String, isValue: Bool) -> String {
            text.utf8.map { byte in
                unreserved.contains(byte) || (isValue && "<>=!".utf8.contains(byte))
                    ? String(UnicodeScalar(byte)) : "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }.joined()
        }
        let texts = (1..<128).map { String(UnicodeScalar(UInt8($0))) } + ["é", "日本", "🙂", "a b&c", "plain", "x<=1"]
        for text in texts {
            for isValue in [false, true] {
                #expect(ResourceURI.encode(text, isValue: isValue) == expected(text, isValue: isValue), "\(text)")
            }
            let uri = ResourceURI(resourceName: "R", conditions: [.init(key: "k", op: .equal, value: text)])
            #expect(try ResourceURI(parsing: uri.description).conditions.map(\.value) == [text], "\(uri.description)")
        }
    }

    /// The text form: `/` parts, `_` for empty conditions before meta-conditions, `&` between conditions, keys
    /// and values encoded (a key's `=` too, a value's not).
    @Test func writesItsPartsAsTheGrammarSays() {
        #expect(ResourceURI(resourceName: "R").description == "/R")
        #expect(ResourceURI(resourceName: "R", metaConditions: [.init(key: "limit", op: .equal, value: "10")]).description == "/R/_/limit=10")
        let uri = ResourceURI(
            resourceName: "Shop.Item-cheap",
            conditions: [.init(key: "Name", op: .notEqual, value: "a b"), .init(key: "k=", op: .greaterThanOrEqual, value: "x=1")],
            metaConditions: [.init(key: "limit", op: .equal, value: "10"), .init(key: "offset", op: .equal, value: "20")])
        #expect(uri.description == "/Shop.Item-cheap/Name!=a%20b&k%3D>=x=1/limit=10&offset=20")
    }
}
