import Testing

@testable import SwitchboardCore

/// Where a key can hide in text that others are shown, and what must stay as it is.
@Suite
struct KeyRedactorTests {
    /// Keys as words, the way `APIKeyAuthenticator` knows its keys by their hashes.
    struct WordKeys: Authenticator {
        let keys: Set<String>
        func identity(forKey key: String?) async throws(SwitchboardError) -> AccessIdentity { .unrestricted }
        func isKey(_ word: String) -> Bool { keys.contains(word) }
    }

    static let key = "Ab3-dE_fGh1jKl2mNo4pQr"
    /// A key may hold what a URI uses as a delimiter (`switchboard serve --token` takes any printable ASCII
    /// but parentheses, commas, semicolons and spaces).
    static let paddedKey = "cGFzc3dvcmQxMjM0NTY3OA=="
    static let redactor = KeyRedactor(authenticator: WordKeys(keys: [key, paddedKey]))

    @Test(arguments: [
        ("/nosuch(\(key))", "/nosuch((redacted))"),
        ("/api/shell/\(key)", "/api/shell/(redacted)"),
        ("/superhero/name=\(key)&year=1", "/superhero/name=(redacted)&year=1"),
        ("/x/a=\(key)&b=\(key)//limit=1", "/x/a=(redacted)&b=(redacted)//limit=1"),
        ("/x/token=\(paddedKey)&y=2", "/x/token=(redacted)&y=2"),
        ("/x/token=\(paddedKey)", "/x/token=(redacted)"),
        ("/x?token=\(paddedKey)#top", "/x?token=(redacted)#top"),
        ("\(paddedKey)", "(redacted)"),
        ("Could not locate any resource by 'nosuch(\(key))'.", "Could not locate any resource by 'nosuch((redacted))'."),
        ("{\"Query\": \"/pty/name=\(key)\"}", "{\"Query\": \"/pty/name=(redacted)\"}"),
        ("héllo \(key) wörld", "héllo (redacted) wörld"),
    ])
    func takesOutEveryKey(text: String, expected: String) {
        #expect(Self.redactor.redact(text) == expected)
    }

    @Test(arguments: [
        "/superhero/name=Batman&year>1950//order_asc=name",
        "/x/name=\(key)x",  // a longer word that holds a key is not the key
        "/x/name=x\(key)",
        String(key.dropLast()),
        "",
        "short",
        "Ab3-dE_fGh1jKl2m Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa é",
    ])
    func leavesTheRestAsItIs(text: String) {
        #expect(Self.redactor.redact(text) == text)
    }

    /// An answer that quotes a part of a key its request held whole: the parts of 8 characters or more go.
    @Test func takesOutThePartsOfKeysFoundBefore() {
        let found = Self.redactor.redact("GET /nosuch(\(Self.key))", fragmentsOf: [])
        #expect(found.text == "GET /nosuch((redacted))" && found.keys == [Self.key])
        let answer = "Could not locate any resource by 'nosuch(Ab3'; unknown view 'dE_fGh1jKl2mNo4pQr'; 'Kl2mNo4p' 'Kl2mNo4'"
        #expect(
            Self.redactor.redact(answer, fragmentsOf: found.keys).text
                == "Could not locate any resource by 'nosuch(Ab3'; unknown view '(redacted)'; '(redacted)' 'Kl2mNo4'")
        #expect(Self.redactor.redact(answer, fragmentsOf: []).text == answer)
    }

    /// Text is cut before it is searched, and a word the cut falls in is left out whole: its first part could
    /// be the start of a key that is then too short to be known as one.
    @Test func cutsBeforeTheWordTheCutFallsIn() {
        let uri = "/x/a=" + String(repeating: "b", count: 990) + "&k=" + Self.key + "&more"
        let cut = KeyRedactor.prefix(of: uri, bytes: 1000)
        #expect(cut == "/x/a=" + String(repeating: "b", count: 990) + "&k=")
        #expect(!cut.contains(Self.key.prefix(2)))
        #expect(KeyRedactor.prefix(of: "ab cé", bytes: 5) == "ab c")  // not inside é's two bytes
        #expect(KeyRedactor.prefix(of: "ab cd ef", bytes: 4) == "ab ")  // "cd" is cut: left out whole
        #expect(KeyRedactor.prefix(of: "short", bytes: 1000) == "short")
    }

    @Test func redactsTheStringsOfAValue() {
        let value: JSON = .object(["Query": .string("/pty/name=\(Self.key)"), "Count": .int(3), "List": .array([.string(Self.key)])])
        #expect(
            Self.redactor.redact(value)
                == .object(["Query": .string("/pty/name=(redacted)"), "Count": .int(3), "List": .array([.string("(redacted)")])]))
    }

    /// An authenticator that cannot tell keys from other text (the protocol's default) changes nothing.
    @Test func theDefaultKnowsNoKeys() {
        #expect(KeyRedactor(authenticator: AllowAllAuthenticator()).redact("/nosuch(\(Self.key))") == "/nosuch(\(Self.key))")
    }
}
