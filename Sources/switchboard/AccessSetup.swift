import ArgumentParser
import Logging
import Switchboard
import SwitchboardAPIKeys

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How `serve` authenticates: the access token and the key file, where they live, and how they reload.
struct AccessSetup {
    /// The name the access token has in listings, logs and audit lines.
    static let tokenOwner = "owner"

    let authenticator: any Authenticator
    /// The access token, when there is one (no key file, or `--token`).
    let token: String?
    /// The key file SIGHUP reads: `--keys`, or `<data dir>/keys.json` even when it did not exist at start
    /// (`switchboard keys add` makes it there, and says to send SIGHUP). Nil with `--no-auth`.
    let keyFilePath: String?
    let tokenFilePath: String?

    /// The key file's path when `serve` is not told one: `<data dir>/keys.json`.
    static func defaultKeyFile(dataDirectory: String) -> String { dataDirectory + "/keys.json" }

    /// The token file: `<data dir>/token`, owner-only.
    static func tokenFile(dataDirectory: String) -> String { dataDirectory + "/token" }

    /// Sets up authentication for `serve`.
    /// - Parameters:
    ///   - token: `--token`, or `SWITCHBOARD_TOKEN`.
    ///   - keyFile: `--keys`; without it, `<data dir>/keys.json` if it exists.
    ///   - noAuth: `--no-auth`.
    static func make(token: String?, keyFile: String?, noAuth: Bool, dataDirectory: String) throws -> AccessSetup {
        if noAuth { return AccessSetup(authenticator: AllowAllAuthenticator(), token: nil, keyFilePath: nil, tokenFilePath: nil) }
        let keyFilePath = keyFile ?? defaultKeyFile(dataDirectory: dataDirectory)
        let hasKeys = keyFile != nil || FileManager.default.fileExists(atPath: keyFilePath)
        var file = KeyFile()
        if hasKeys { file = try readTrustedKeyFile(keyFilePath) }
        // With no key file the server makes its own token; with one, only when asked for. A key file made
        // later is read on SIGHUP beside the token, which stays valid until the server stops.
        let token = token ?? (hasKeys ? nil : APIKeyAuthenticator.generateKey())
        if let token { try validate(token: token) }
        let authenticator = APIKeyAuthenticator(withToken(token, file))
        var tokenFilePath: String?
        if let token {
            let path = tokenFile(dataDirectory: dataDirectory)
            try writeOwnerOnly(token + "\n", to: path)
            tokenFilePath = path
        }
        return AccessSetup(authenticator: authenticator, token: token, keyFilePath: keyFilePath, tokenFilePath: tokenFilePath)
    }

    static func withToken(_ token: String?, _ file: KeyFile) -> KeyFile {
        guard let token else { return file }
        var file = file
        file.keys.removeAll { $0.name == tokenOwner }
        file.keys.append(.init(name: tokenOwner, key: token, rights: .all))
        return file
    }

    /// A token travels in URIs as it is (`/api(<token>)/shell`, `/console#token=<token>`, the hints `serve`
    /// prints): it is letters, digits and `-` `.` `_` `~`, the characters a URI never encodes, as generated
    /// keys are. `#` or `?` would end the path, `%` and `+` be decoded, `&` and `=` split the query.
    static func validate(token: String) throws {
        guard token.utf8.count >= 16 else { throw ValidationError("The token must be at least 16 characters long") }
        guard
            token.utf8.allSatisfy({ byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                    UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                    true
                default: false
                }
            })
        else {
            throw ValidationError(
                "The token must be letters, digits and - . _ ~ (it travels in URIs as it is: /api(<token>)/shell, /console#token=<token>)")
        }
    }

    /// The key file `serve` trusts: one that only its owner, this user (or root), can change. Whoever can
    /// write it gives themselves every right, a PTY shell as this user included; `sshd` refuses an
    /// `authorized_keys` that others can write for the same reason. Reading it does no harm: it holds hashes.
    static func readTrustedKeyFile(_ path: String) throws -> KeyFile {
        var info = stat()
        if stat(path, &info) == 0 {
            let fix = "; `chmod 600 '\(path)'`, or `switchboard keys` writes it so"
            if info.st_uid != geteuid() && info.st_uid != 0 {
                throw ValidationError(
                    "The key file '\(path)' belongs to another user (uid \(info.st_uid)), who can give any key every right; it is not used")
            }
            if info.st_mode & 0o022 != 0 {
                let who = info.st_mode & 0o002 != 0 ? "every user" : "its group"
                throw ValidationError(
                    "The key file '\(path)' can be changed by \(who) (mode \(String(info.st_mode & 0o777, radix: 8))), and whoever changes it gives a key every right; it is not used\(fix)"
                )
            }
        }
        return try readKeyFile(path)
    }

    static func readKeyFile(_ path: String) throws -> KeyFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason =
                FileManager.default.fileExists(atPath: path)
                ? "it cannot be read"
                : "there is no such file (`switchboard keys add <name> --allow <grant> --file \(path)` makes it)"
            throw ValidationError("Cannot read the key file '\(path)': \(reason)")
        }
        do {
            return try KeyFile(parsing: String(decoding: data, as: UTF8.self))
        } catch {
            throw ValidationError("The key file '\(path)': \(error.message)")
        }
    }

    /// Logs each resource pattern of the key file's grants that covers no resource of this server: grants
    /// name resources in full, so `--allow superhero:GET` gives nothing, and its key met `403` where its owner
    /// expected access, with nothing said anywhere. The warning names the resource a URI would find by that
    /// name (`SwitchboardSamples.Superhero`).
    static func warnAboutGrantsMatchingNothing(_ file: KeyFile, api: SwitchboardAPI, logger: Logger) {
        let names = api.resources.map(\.name)
        let holders = file.keys.map { ("key '\($0.name)'", $0.rights) } + [("the anonymous rights", file.anonymous)]
        for (holder, rights) in holders {
            for pattern in rights.grants.flatMap(\.resources) where !names.contains(where: { AccessRights.pattern(pattern, matches: $0) }) {
                let meant = (try? api.resource(named: pattern)).map { "; grants name resources in full: did you mean \($0.name)?" }
                logger.warning("The grant of \(holder) on '\(SwitchboardError.excerpt(pattern))' covers no resource of this server\(meant ?? "")")
            }
        }
    }

    /// Reads the key file again (on SIGHUP) and closes the connections of keys that are gone.
    func reload(api: SwitchboardAPI, logger: Logger) async {
        guard let keyFilePath, let keys = authenticator as? APIKeyAuthenticator else {
            logger.notice("SIGHUP: authentication is off (--no-auth); there are no keys to reload")
            return
        }
        guard FileManager.default.fileExists(atPath: keyFilePath) else {
            // No file now (never made: the access token alone; or one being replaced): the keys in use stay.
            logger.notice(
                "SIGHUP: there is no key file at \(keyFilePath); the keys in use stay (`switchboard keys add <name> --allow ... --file \(keyFilePath)` makes one)",
                metadata: ["sb.keys.file": "\(keyFilePath)"])
            return
        }
        do {
            let file = try Self.readTrustedKeyFile(keyFilePath)
            let removed = keys.reload(Self.withToken(token, file))
            var closed = 0
            for name in removed { closed += await api.closeConnections(of: name, reason: "The key was revoked") }
            logger.notice(
                "Key file reloaded",
                metadata: ["sb.keys": "\(file.keys.count)", "sb.keys.removed": .array(removed.map { .string($0) }), "sb.connections.closed": "\(closed)"])
            Self.warnAboutGrantsMatchingNothing(file, api: api, logger: logger)
        } catch {
            logger.error("Key file not reloaded; the keys in use stay as they were", metadata: ["error": "\(error)"])
        }
    }

    /// Writes a file that only its owner can read. A missing directory is created for the owner alone; an
    /// existing one is made so too only when it is Switchboard's own (`ownDirectory`: the data directory, the
    /// runtime directory), never a directory the user named for a file (`keys add --file /srv/keys.json`
    /// leaves `/srv` as it is, and a file in `/tmp` leaves `/tmp` open to others).
    static func writeOwnerOnly(_ text: String, to path: String, ownDirectory: Bool = true) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        if ownDirectory { chmod(directory, 0o700) }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else { throw ValidationError("Cannot write '\(path)': \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        fchmod(descriptor, 0o600)
        let bytes = Array(text.utf8)
        guard write(descriptor, bytes, bytes.count) == bytes.count else {
            throw ValidationError("Cannot write '\(path)': \(String(cString: strerror(errno)))")
        }
    }

    /// Where `serve` leaves the token of the server on a port, for `switchboard connect` on this machine:
    /// `$XDG_RUNTIME_DIR/switchboard/` or `~/.local/share/switchboard/runtime/`, owner-only.
    static func runtimeTokenFile(port: Int) -> String? {
        let environment = ProcessInfo.processInfo.environment
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty {
            return runtime + "/switchboard/server-\(port).token"
        }
        guard let home = environment["HOME"], !home.isEmpty else { return nil }
        return home + "/.local/share/switchboard/runtime/server-\(port).token"
    }

    /// Reads a token file if it belongs to this user and nobody else can read it.
    static func readOwnerOnly(_ path: String) -> String? {
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_uid == getuid(), info.st_mode & 0o077 == 0,
            let data = FileManager.default.contents(atPath: path)
        else { return nil }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return token.isEmpty ? nil : token
    }
}
