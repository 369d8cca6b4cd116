import Crypto
public import SwitchboardCore
import Synchronization
import HTTPTypes

/// API keys with access rights, kept as SHA-256 hashes (RESTable's API keys, with Jupyter's token).
///
/// ```swift
/// let keys = APIKeyAuthenticator(keys: [
///     .init(name: "alice", key: "…", rights: AccessRights([.init(resources: ["Switchboard.*"], methods: [.GET])]))
/// ])
/// let api = SwitchboardAPI(authenticator: keys)
/// ```
///
/// A key file (``KeyFile``) holds the same as JSON; ``reload(_:)`` swaps it in while the server runs and
/// returns the names of the keys that are gone, so that their connections can be closed
/// (`SwitchboardAPI.closeConnections(of:reason:)`).
public final class APIKeyAuthenticator: Authenticator {
    /// One key: a name, the SHA-256 of the key, and its rights.
    public struct Entry: Sendable, Equatable {
        /// The key's name: shown in listings, logs and audit lines, and the owner of what it creates.
        public var name: String
        /// The SHA-256 of the key, as 64 lowercase hex digits.
        public var hash: String
        /// What the key may do.
        public var rights: AccessRights

        /// Creates an entry from a key's hash.
        public init(name: String, hash: String, rights: AccessRights) {
            self.name = name
            self.hash = hash.lowercased()
            self.rights = rights
        }

        /// Creates an entry from the key itself, which is hashed and not kept.
        public init(name: String, key: String, rights: AccessRights) {
            self.init(name: name, hash: APIKeyAuthenticator.hash(key), rights: rights)
        }
    }

    private struct State {
        var byHash: [String: Entry]
        var anonymous: AccessRights
    }
    private let state: Mutex<State>

    /// Creates an authenticator.
    /// - Parameters:
    ///   - keys: The keys.
    ///   - anonymous: The rights of callers that send no key (default none: they get `401`).
    public init(keys: [Entry], anonymous: AccessRights = .none) {
        state = Mutex(State(byHash: Dictionary(keys.map { ($0.hash, $0) }, uniquingKeysWith: { first, _ in first }), anonymous: anonymous))
    }

    /// Creates an authenticator from a key file.
    public convenience init(_ file: KeyFile) {
        self.init(keys: file.keys, anonymous: file.anonymous)
    }

    public func identity(forKey key: String?) async throws(SwitchboardError) -> AccessIdentity {
        try lookUp(key)
    }

    /// The look-up itself, out of the `async` function: work done in one (here, hashing the key) takes its
    /// stack from the task's allocator, whose slabs an upgrading connection's task keeps for its life.
    @inline(never)
    private func lookUp(_ key: String?) throws(SwitchboardError) -> AccessIdentity {
        let (entry, anonymous) = state.withLock { state in (key.flatMap { state.byHash[Self.hash($0)] }, state.anonymous) }
        guard key != nil else {
            guard !anonymous.isEmpty else {
                throw .authenticationRequired(
                    "Authentication required: send the access token or an API key as 'Authorization: Bearer <key>', in the URI as /api(<key>)/..., or open /console#token=<key> in a browser"
                )
            }
            return AccessIdentity(name: "anonymous", isAnonymous: true, rights: anonymous)
        }
        guard let entry else { throw .authenticationRequired("The key is not valid (it may have been revoked)") }
        return AccessIdentity(name: entry.name, rights: entry.rights)
    }

    /// Whether the word is one of the keys (its hash is one of theirs).
    public func isKey(_ word: String) -> Bool {
        let hash = Self.hash(word)
        return state.withLock { $0.byHash[hash] != nil }
    }

    /// Replaces the keys and anonymous rights.
    /// - Returns: The names of the keys that were removed or replaced (their hash is gone), so that the
    ///   connections opened with them can be closed.
    @discardableResult
    public func reload(_ file: KeyFile) -> [String] {
        state.withLock { state in
            let kept = Set(file.keys.map(\.hash))
            let removed = state.byHash.values.filter { !kept.contains($0.hash) }.map(\.name)
            state.byHash = Dictionary(file.keys.map { ($0.hash, $0) }, uniquingKeysWith: { first, _ in first })
            state.anonymous = file.anonymous
            return removed.sorted()
        }
    }

    /// The names of the keys, sorted.
    public var keyNames: [String] { state.withLock { $0.byHash.values.map(\.name).sorted() } }

    /// The SHA-256 of a key as 64 lowercase hex digits.
    public static func hash(_ key: String) -> String {
        // Written as bytes: it runs for every HTTP request with a key (a string per byte, joined, was 33 strings).
        let digits: StaticString = "0123456789abcdef"
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        for byte in SHA256.hash(data: Array(key.utf8)) {
            hex.append(digits.utf8Start[Int(byte >> 4)])
            hex.append(digits.utf8Start[Int(byte & 0x0F)])
        }
        return String(decoding: hex, as: UTF8.self)
    }

    /// A new random key: 32 bytes from the system's secure generator, in base64url (43 characters).
    ///
    /// A key never starts with `-`, so that it can follow an option on a command line
    /// (`switchboard connect --token KEY`) without being read as an option itself; one key in 64 is drawn again.
    public static func generateKey() -> String {
        while true {
            let key = randomBase64URLKey()
            if key.first != "-" { return key }
        }
    }

    private static func randomBase64URLKey() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        // Six bits per character: 43 characters carry the 256 bits.
        var bits = 0
        var count = 0
        var key = ""
        for byte in bytes {
            bits = bits << 8 | Int(byte)
            count += 8
            while count >= 6 {
                count -= 6
                key.append(alphabet[(bits >> count) & 0x3F])
            }
            bits &= (1 << count) - 1
        }
        if count > 0 { key.append(alphabet[(bits << (6 - count)) & 0x3F]) }
        return key
    }
}

/// The JSON file `switchboard serve --keys FILE` reads: named keys, stored as hashes, with their rights.
///
/// ```json
/// {
///   "Keys": [
///     {"Name": "alice", "Hash": "<sha-256 hex>", "Allow": [
///       {"Resources": ["Switchboard.Shell", "Switchboard.Pty"], "Methods": ["GET"]},
///       {"Resources": ["SwitchboardSamples.*"], "Methods": ["*"]}]}
///   ],
///   "Anonymous": [{"Resources": ["SwitchboardSamples.Superhero"], "Methods": ["GET"]}]
/// }
/// ```
/// `switchboard keys add NAME --allow GRANT` adds a key and prints it once.
public struct KeyFile: Sendable, Equatable {
    /// The keys, by name.
    public var keys: [APIKeyAuthenticator.Entry]
    /// The rights of callers without a key (default none).
    public var anonymous: AccessRights

    /// Creates a key file's contents.
    public init(keys: [APIKeyAuthenticator.Entry] = [], anonymous: AccessRights = .none) {
        self.keys = keys
        self.anonymous = anonymous
    }

    /// Reads a key file's JSON.
    /// - Throws: A `SwitchboardError` that names the problem (never a key: the file holds none).
    public init(parsing text: String) throws(SwitchboardError) {
        let json: JSON
        do {
            json = try JSON(parsing: text)
        } catch {
            throw SwitchboardError(.badRequest, code: .jsonSyntax, "The key file is not valid JSON: \(error)")
        }
        guard case .object(let root) = json else {
            throw SwitchboardError(.badRequest, code: .invalidInput, #"The key file holds one object: {"Keys": [...], "Anonymous": [...]}"#)
        }
        var keys: [APIKeyAuthenticator.Entry] = []
        if case .array(let entries)? = root["Keys"] {
            for entry in entries {
                guard case .object(let object) = entry, case .string(let name)? = object["Name"], !name.isEmpty,
                    case .string(let hash)? = object["Hash"]
                else {
                    throw SwitchboardError(.badRequest, code: .invalidInput, #"Each key is an object with "Name", "Hash" and "Allow""#)
                }
                guard hash.count == 64, hash.allSatisfy(\.isHexDigit) else {
                    throw SwitchboardError(.badRequest, code: .invalidInput, "The hash of key '\(name)' is not 64 hex digits (SHA-256)")
                }
                guard !keys.contains(where: { $0.name == name }) else {
                    throw SwitchboardError(.badRequest, code: .invalidInput, "Two keys are named '\(name)'")
                }
                keys.append(.init(name: name, hash: hash, rights: try Self.rights(object["Allow"], of: "key '\(name)'")))
            }
        }
        self.init(keys: keys, anonymous: try Self.rights(root["Anonymous"], of: "anonymous callers"))
    }

    private static func rights(_ json: JSON?, of owner: String) throws(SwitchboardError) -> AccessRights {
        guard let json else { return .none }
        guard case .array(let grants) = json else {
            throw SwitchboardError(.badRequest, code: .invalidInput, "The rights of \(owner) are a list of grants")
        }
        var result: [AccessRights.Grant] = []
        for grant in grants {
            do {
                result.append(try AccessRights.Grant(json: grant))
            } catch {
                throw SwitchboardError(.badRequest, code: .invalidInput, "In the rights of \(owner): \(error.message)")
            }
        }
        return AccessRights(result)
    }

    /// The file's JSON, pretty-printed.
    public var json: JSON {
        [
            "Keys": .array(
                keys.map { entry in
                    ["Name": .string(entry.name), "Hash": .string(entry.hash), "Allow": .array(entry.rights.grants.map(\.json))]
                }),
            "Anonymous": .array(anonymous.grants.map(\.json)),
        ]
    }
}
