public import HTTPTypes

/// Decides who a caller is from the key it presented.
///
/// Switchboard finds the key (see ``AccessCredentials``) and asks the API's authenticator once per HTTP
/// request and once per WebSocket connection, before the upgrade. Rights are then checked for every
/// request, every terminal entered and every Shell command. Implement it to take keys from anywhere
/// (a database, an identity provider); `APIKeyAuthenticator` (module `SwitchboardAPIKeys`) keeps hashed keys in memory and reads a
/// key file, and ``AllowAllAuthenticator`` turns authentication off.
public protocol Authenticator: Sendable {
    /// The identity for a key.
    /// - Parameter key: The key the caller sent, or `nil` when it sent none.
    /// - Returns: The caller's identity; for `nil`, the anonymous identity, if anonymous callers have rights.
    /// - Throws: A `401` ``SwitchboardError`` for a missing or unknown key. Its message is shown to the
    ///   caller: never put the key in it.
    func identity(forKey key: String?) async throws(SwitchboardError) -> AccessIdentity

    /// Whether a word is a key this authenticator accepts. Switchboard asks it about the words of what it
    /// keeps and shows to others (`Switchboard.Admin.Error`, the console's feed, `Switchboard.Admin.WebSocket`),
    /// and writes `(redacted)` in place of a key that a caller put in the wrong place of a URI
    /// (`/api/shell(<key>)`). Words shorter than 16 characters are not asked about. It is called without a
    /// suspension point, so keep it quick. The default answers `false`: implement it when your keys can be
    /// told from other text.
    func isKey(_ word: String) -> Bool
}

extension Authenticator {
    /// No word is known to be a key.
    public func isKey(_ word: String) -> Bool { false }
}

/// Authentication off: every caller, with a key or without, gets every right.
///
/// The default of ``SwitchboardAPI`` for in-process use and tests. A server that others can reach must
/// not use it: `switchboard serve` refuses `--no-auth` on a non-loopback address.
public struct AllowAllAuthenticator: Authenticator {
    public init() {}
    public func identity(forKey key: String?) async throws(SwitchboardError) -> AccessIdentity { .unrestricted }
}

extension SwitchboardError {
    /// `401`: the caller sent no key, or one that is not valid. Throw it from an ``Authenticator`` of your own.
    public static func authenticationRequired(_ message: String) -> SwitchboardError {
        SwitchboardError(.unauthorized, code: .unauthorized, message)
    }
}

/// Where a caller's key travels, and how Switchboard reads it.
///
/// In order of precedence:
/// - `Authorization: Bearer <key>`, `Authorization: ApiKey <key>` or `Authorization: token <key>` (Jupyter's form);
/// - `Authorization: Basic <base64 of user:key>`, the key as the password (any user name);
/// - in the URI, right after the API root: `/api(<key>)/shell`, for clients that cannot set headers; the
///   transport strips it before the URI is used, shown or logged;
/// - for a browser's WebSocket, which can set no header but its subprotocols: `Sec-WebSocket-Protocol:
///   switchboard, switchboard.key.<key>` (``subprotocol`` and ``subprotocolKeyPrefix``), as the browser console
///   sends it, or, for a key with characters a subprotocol cannot carry, `switchboard.key64.<base64url of its
///   UTF-8>` (``subprotocolEncodedKeyPrefix``); the upgrade answers `switchboard`, never the key. A proxy's
///   access log, which keeps the request line, never sees it.
///
/// No cookie carries a key: a browser sends a host's cookies to every port of that host, so every other server
/// on the machine would get it (the console kept it in one until 2026-12-07, ``cookieName``).
public enum AccessCredentials {
    /// The cookie in which the browser console kept the key until 2026-12-07. It is not read; the console clears
    /// it where a browser still holds it.
    public static let cookieName = "switchboard_token"

    /// The WebSocket subprotocol a browser offers beside its key, and that the upgrade answers.
    public static let subprotocol = "switchboard"

    /// What precedes the key in the subprotocol that carries it (`switchboard.key.<key>`). Only keys made of the
    /// characters of an HTTP token fit (generated keys and `serve`'s tokens do).
    public static let subprotocolKeyPrefix = "switchboard.key."

    /// What precedes a key of any characters in the subprotocol that carries it: the key's UTF-8 in base64url
    /// (RFC 4648 §5; padding optional), `switchboard.key64.<base64url>`. The browser console sends a key that is
    /// not an HTTP token this way (a passphrase of an authenticator of your own), so that no key travels in a
    /// URI.
    public static let subprotocolEncodedKeyPrefix = "switchboard.key64."

    /// The key in a request's headers or URI, if there is one.
    /// - Parameters:
    ///   - headers: The request's header fields.
    ///   - uriKey: The key from the URI's `(<key>)` part, which the transport took out.
    /// - Throws: A `401` ``SwitchboardError`` for an `Authorization` header or an encoded subprotocol key
    ///   Switchboard cannot read.
    public static func key(headers: HTTPFields, uriKey: String?) throws(SwitchboardError) -> String? {
        if let authorization = headers[.authorization] {
            return try key(fromAuthorization: authorization)
        }
        if let uriKey { return uriKey }
        for offers in headers where offers.name == .secWebSocketProtocol {
            for offer in offers.value.split(separator: ",") {
                let offer = offer.trimmingWhitespace()
                if offer.hasPrefix(subprotocolKeyPrefix), offer.count > subprotocolKeyPrefix.count {
                    return String(offer.dropFirst(subprotocolKeyPrefix.count))
                }
                if offer.hasPrefix(subprotocolEncodedKeyPrefix), offer.count > subprotocolEncodedKeyPrefix.count {
                    guard let bytes = Base64.decode(String(offer.dropFirst(subprotocolEncodedKeyPrefix.count))),
                        let key = String(validating: bytes, as: UTF8.self), !key.isEmpty
                    else {
                        throw .authenticationRequired("The key of the subprotocol '\(subprotocolEncodedKeyPrefix)…' is not base64url of UTF-8 text")
                    }
                    return key
                }
            }
        }
        return nil
    }

    /// Whether a WebSocket upgrade's `Sec-WebSocket-Protocol` offers ``subprotocol``.
    public static func offersSubprotocol(_ headers: HTTPFields) -> Bool {
        headers.contains { field in
            field.name == .secWebSocketProtocol && field.value.split(separator: ",").contains { $0.trimmingWhitespace() == subprotocol }
        }
    }

    static func key(fromAuthorization value: String) throws(SwitchboardError) -> String {
        let trimmed = value.trimmingWhitespace()
        let scheme = String(trimmed.prefix { !$0.isWhitespace })
        let credential = String(trimmed.dropFirst(scheme.count)).trimmingWhitespace()
        guard !credential.isEmpty else {
            throw .authenticationRequired("The Authorization header has no credential; send 'Authorization: Bearer <key>'")
        }
        switch scheme.lowercased() {
        case "bearer", "apikey", "token":
            return credential
        case "basic":
            guard let decoded = Base64.decode(credential), let text = String(validating: decoded, as: UTF8.self),
                let colon = text.firstIndex(of: ":")
            else {
                throw .authenticationRequired("The Basic credential is not base64 of 'user:key'")
            }
            return String(text[text.index(after: colon)...])
        default:
            throw .authenticationRequired(
                "Unknown authorization scheme '\(scheme.prefix(20))'; send 'Authorization: Bearer <key>', 'ApiKey <key>' or Basic with the key as password"
            )
        }
    }

    /// Splits a `(<key>)` part off the start of a path below the API root: `(k)/shell` gives `k` and `/shell`.
    /// - Returns: `nil` when the path does not start with `(`.
    /// - Throws: A `400` ``SwitchboardError`` when the part is not closed or is empty.
    public static func splitURIKey(_ path: Substring) throws(SwitchboardError) -> (key: String, rest: Substring)? {
        // A first byte other than `(` cannot begin a `(` character: most paths are passed over without reading one.
        guard path.utf8.first == UInt8(ascii: "("), path.first == "(" else { return nil }
        guard let close = path.firstIndex(of: ")") else {
            throw SwitchboardError(.badRequest, code: .invalidURISyntax, "The key in the URI is not closed; write it as /api(<key>)/shell")
        }
        let key = path[path.index(after: path.startIndex)..<close]
        guard !key.isEmpty else {
            throw SwitchboardError(.badRequest, code: .invalidURISyntax, "The key in the URI is empty; write it as /api(<key>)/shell")
        }
        return (String(key).removingPercentEncodingLeniently, path[path.index(after: close)...])
    }
}

extension String {
    /// Percent-decoded where the escapes are valid UTF-8; otherwise unchanged.
    var removingPercentEncodingLeniently: String {
        guard contains("%") else { return self }
        var bytes: [UInt8] = []
        var index = utf8.startIndex
        while index < utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%"), let next = utf8.index(index, offsetBy: 2, limitedBy: utf8.endIndex), next < utf8.endIndex,
                let value = UInt8(String(decoding: utf8[utf8.index(after: index)...next], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                index = utf8.index(after: next)
            } else {
                bytes.append(byte)
                index = utf8.index(after: index)
            }
        }
        return String(validating: bytes, as: UTF8.self) ?? self
    }
}

/// Base64 decoding (standard and URL alphabets, padding optional), for HTTP Basic credentials and encoded
/// subprotocol keys.
enum Base64 {
    static func decode(_ text: String) -> [UInt8]? {
        var values: [UInt8] = []
        values.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): values.append(byte - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): values.append(byte - UInt8(ascii: "a") + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): values.append(byte - UInt8(ascii: "0") + 52)
            case UInt8(ascii: "+"), UInt8(ascii: "-"): values.append(62)
            case UInt8(ascii: "/"), UInt8(ascii: "_"): values.append(63)
            case UInt8(ascii: "="): continue
            default: return nil
            }
        }
        guard values.count % 4 != 1 else { return nil }
        var bytes: [UInt8] = []
        var index = 0
        while index < values.count {
            let chunk = values[index..<min(index + 4, values.count)]
            var bits = 0
            for value in chunk { bits = bits << 6 | Int(value) }
            bits <<= 6 * (4 - chunk.count)
            let count = chunk.count - 1
            for shift in [16, 8, 0].prefix(count) { bytes.append(UInt8((bits >> shift) & 0xFF)) }
            index += 4
        }
        return bytes
    }
}
