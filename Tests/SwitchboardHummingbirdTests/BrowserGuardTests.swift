import Testing

@testable import SwitchboardHummingbird

/// The `Host` check cuts an ASCII authority by its bytes; it must cut where characters cut.
@Suite
struct BrowserGuardTests {
    /// The cut by characters, the way it was first written.
    static func splitByCharacters(_ authority: String) -> (host: String, port: String?) {
        let parts = authority.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 2 { return (String(parts[0]), String(parts[1])) }
        return (authority, nil)
    }

    @Test(
        arguments: [
            ("example.com:8080", "example.com", "8080"), ("example.com", "example.com", nil), ("[::1]:80", "::1", "80"),
            ("[::1]", "::1", nil), ("::1", "::1", nil), ("host:", "host", ""), (":80", "", "80"), ("a:b:c", "a:b:c", nil),
            ("hôst:80", "hôst", "80"),
            // A colon with a combining mark after it is one character that is not a colon.
            ("host:\u{301}80", "host:\u{301}80", nil),
        ] as [(String, String, String?)])
    func cutsHostAndPort(authority: String, host: String, port: String?) {
        let cut = BrowserGuard.split(authority)
        #expect(cut.host == host && cut.port == port, "\(authority)")
    }

    @Test func bytesCutAsCharactersOnEveryShortASCIIMix() {
        let pieces = ["a", ":", ".", "1", "-", "%"]
        var texts = [""]
        for _ in 0..<5 { texts = texts + texts.flatMap { text in pieces.map { text + $0 } } }
        for text in Set(texts) where !text.hasPrefix("[") {
            let (host, port) = BrowserGuard.split(text)
            let expected = Self.splitByCharacters(text)
            #expect(host == expected.host && port == expected.port, "\(text)")
        }
    }

    @Test func allowsOnlyTheListedHostsWhateverTheirPortOrCase() {
        let guardian = BrowserGuard(allowedHosts: ["localhost", "Switchboard.test"], allowedOrigins: [])
        #expect(guardian.allowsHost("localhost:8080"))
        #expect(guardian.allowsHost("SWITCHBOARD.TEST"))
        #expect(guardian.allowsHost("switchboard.test.:443"))
        #expect(!guardian.allowsHost("evil.test:8080"))
        #expect(!guardian.allowsHost("localhost.evil.test"))
        #expect(!guardian.allowsHost(nil))
        #expect(!guardian.allowsHost(""))
    }
}
