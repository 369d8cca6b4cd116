import HTTPTypes

/// The checks that keep browsers from being used against a Switchboard server: which `Host` it answers
/// (against DNS rebinding) and which `Origin` may upgrade or change state (against cross-site requests).
struct BrowserGuard: Sendable {
    /// The host names the server answers, without duplicates; `nil` answers any. Searched in order: there are
    /// few (the loopback names, or those an operator lists), and comparing a short name to each costs less
    /// than hashing it once.
    let allowedHosts: [String]?
    /// Origins allowed besides the server's own (`https://app.example.com`); `*` allows any.
    let allowedOrigins: Set<String>

    init(allowedHosts: [String]?, allowedOrigins: [String]) {
        self.allowedHosts = allowedHosts.map { hosts in
            var unique: [String] = []
            for host in hosts.map({ Self.hostName(of: $0.lowercased()) }) where !unique.contains(host) { unique.append(host) }
            return unique
        }
        self.allowedOrigins = Set(allowedOrigins.map { Self.trimmedOrigin($0.lowercased()) })
    }

    /// The host names of the loopback interface.
    static let loopbackHosts = ["localhost", "127.0.0.1", "::1"]

    /// Whether the request's `Host` (or HTTP/2 authority) is one the server answers.
    func allowsHost(_ authority: String?) -> Bool {
        guard let allowedHosts else { return true }
        guard let authority, !authority.isEmpty else { return false }
        return allowedHosts.contains(Self.plainHostName(of: authority) ?? Self.hostName(of: authority.lowercased()))
    }

    /// Whether a request from this `Origin` may upgrade or change state: no `Origin` (not a browser), the
    /// server's own origin (same host and port as `Host`), or one of ``allowedOrigins``. `null` (sandboxed
    /// frames, `file:` pages) is refused unless listed. A `ws:`/`wss:` origin, which no browser sends but
    /// WebSocket libraries do, needs the same host name.
    func allowsOrigin(_ origin: String?, host: String?) -> Bool {
        guard let origin else { return true }
        let lowered = Self.trimmedOrigin(origin.trimmingCharacters(in: " ").lowercased())
        if allowedOrigins.contains("*") || allowedOrigins.contains(lowered) { return true }
        let parts = lowered.split(separator: "/", omittingEmptySubsequences: false)
        // scheme:, "", authority
        guard let host, parts.count == 3, parts[0].hasSuffix(":"), parts[1].isEmpty else { return false }
        let scheme = parts[0].dropLast()
        let originAuthority = String(parts[2])
        let defaultPort = scheme == "https" || scheme == "wss" ? "443" : "80"
        let (originHost, originPort) = Self.split(originAuthority)
        let (hostName, hostPort) = Self.split(host.lowercased())
        // No web page has a ws: or wss: origin; WebSocket libraries (Hummingbird's client among them) send
        // one made of the URL's host without its port. Only the host name can be compared.
        if scheme == "ws" || scheme == "wss" { return originHost == hostName }
        return originHost == hostName && (originPort ?? defaultPort) == (hostPort ?? defaultPort)
    }

    /// Whether pages of `origin` may read the server's answers over HTTP (``CrossOriginSharing``): only an
    /// origin that ``allowedOrigins`` lists, or any when it holds `*`. The server's own pages need no such leave.
    func sharesAnswers(withOrigin origin: String) -> Bool {
        allowedOrigins.contains("*") || allowedOrigins.contains(Self.trimmedOrigin(origin.trimmingCharacters(in: " ").lowercased()))
    }

    static func trimmedOrigin(_ origin: String) -> String {
        origin.hasSuffix("/") ? String(origin.dropLast()) : origin
    }

    /// `example.com:8080` → (`example.com`, `8080`); `[::1]:80` → (`::1`, `80`).
    static func split(_ authority: String) -> (host: String, port: String?) {
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            let host = String(authority[authority.index(after: authority.startIndex)..<close])
            let rest = authority[authority.index(after: close)...]
            return (host, rest.hasPrefix(":") ? String(rest.dropFirst()) : nil)
        }
        let bytes = authority.utf8
        if !bytes.contains(where: { $0 >= 0x80 }) {
            // ASCII, as every request's `Host` is: its bytes are its characters, and the one colon is found
            // among them (cutting by characters cost an HTTP request more than the rest of this check).
            guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return (authority, nil) }
            let afterColon = bytes.index(after: colon)
            if bytes[afterColon...].contains(UInt8(ascii: ":")) { return (authority, nil) }
            return (String(authority[..<colon]), String(authority[afterColon...]))
        }
        let parts = authority.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 2 { return (String(parts[0]), String(parts[1])) }
        return (authority, nil)  // a bare name, or an IPv6 address without brackets
    }

    /// The host name of a plain authority, `name[:port]` in lowercase ASCII without brackets (nearly every
    /// `Host`), read from its bytes in one pass: what ``hostName(of:)`` gives for it, without lowercasing and
    /// cutting through `String`'s views. `nil` for any other authority.
    static func plainHostName(of authority: String) -> String? {
        var text = authority
        return text.withUTF8 { bytes in
            var colon: Int?
            for (offset, byte) in bytes.enumerated() {
                if byte >= 0x80 || byte == UInt8(ascii: "[") || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) { return nil }
                if byte == UInt8(ascii: ":") {
                    if colon != nil { return nil }
                    colon = offset
                }
            }
            var end = colon ?? bytes.count
            if end > 0, bytes[end - 1] == UInt8(ascii: ".") { end -= 1 }
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[..<end]), as: UTF8.self)
        }
    }

    static func hostName(of authority: String) -> String {
        var host = split(authority).host
        if host.hasSuffix(".") { host.removeLast() }
        return host
    }
}

extension String {
    func trimmingCharacters(in character: Character) -> String {
        Substring(self).trimmingCharacters(in: character)
    }
}
