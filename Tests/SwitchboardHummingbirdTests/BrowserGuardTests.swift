import Hummingbird
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

    /// The one-pass read of a plain authority names the host that the general cut names, and leaves every
    /// other authority (capitals, brackets, two colons, non-ASCII) to it.
    @Test func thePlainHostNameIsTheGeneralOne() {
        let pieces = ["a", ":", ".", "1", "[", "]", "A"]
        var texts = [""]
        for _ in 0..<5 { texts = texts + texts.flatMap { text in pieces.map { text + $0 } } }
        var differences: [String] = []
        for text in Set(texts) + ["hôst:80", "localhost:8080", "example.com.", "::1"] {
            if let plain = BrowserGuard.plainHostName(of: text), plain != BrowserGuard.hostName(of: text.lowercased()) {
                differences.append(text)
            }
        }
        #expect(differences.isEmpty, "\(differences.prefix(10))")
        #expect(BrowserGuard.plainHostName(of: "localhost:8080") == "localhost")
        #expect(BrowserGuard.plainHostName(of: "Localhost:8080") == nil && BrowserGuard.plainHostName(of: "[::1]:80") == nil)
    }

    /// The path below the API root, cut by bytes where that is where characters cut.
    @Test func thePathBelowTheRootIsCutWhereCharactersAre() {
        #expect(Router<SwitchboardRequestContext>.pathBelowRoot("/api/shell", root: "/api") == "/shell")
        #expect(Router<SwitchboardRequestContext>.pathBelowRoot("/api(key)/shell", root: "/api") == "(key)/shell")
        #expect(Router<SwitchboardRequestContext>.pathBelowRoot("/api", root: "/api") == "")
        #expect(Router<SwitchboardRequestContext>.pathBelowRoot("/", root: "") == "")
        // A mark combined with the root's last letter makes another character: not below the root.
        #expect(Router<SwitchboardRequestContext>.pathBelowRoot("/api\u{301}/x", root: "/api") == "/api\u{301}/x")
        // The same text composed another way is.
        #expect(Router<SwitchboardRequestContext>.pathBelowRoot("/cafe\u{301}/x", root: "/caf\u{E9}") == "/x")
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
