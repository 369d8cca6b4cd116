import ArgumentParser
import Switchboard
import SwitchboardAPIKeys

import Foundation

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Manage the API keys of a key file: add one (printed once), list them, remove one.",
        discussion: """
            The key file keeps SHA-256 hashes, never keys. A running `switchboard serve` reads it again on \
            SIGHUP (kill -HUP <pid>) and closes the connections of keys that were removed.

            Example: switchboard keys add alice --allow 'Switchboard.Shell,Switchboard.Pty:GET' --allow 'SwitchboardSamples.*:*'
            """,
        subcommands: [Add.self, List.self, Remove.self]
    )

    struct FileOption: ParsableArguments {
        @Option(help: "The key file. (default: <data-dir>/keys.json, which serve reads)") var file: String?
        @Option(help: "The data directory of the server that is to read the keys, as given to serve. (default: switchboard-data)")
        var dataDir: String?

        /// The key file these options name.
        var path: String { file ?? AccessSetup.defaultKeyFile(dataDirectory: dataDir ?? "switchboard-data") }

        func validate() throws {
            if file != nil && dataDir != nil {
                throw ValidationError("--file and --data-dir both name the key file; give one of them")
            }
        }

        func read() throws -> KeyFile {
            FileManager.default.fileExists(atPath: path) ? try AccessSetup.readKeyFile(path) : KeyFile()
        }

        func write(_ keys: KeyFile) throws {
            try AccessSetup.writeOwnerOnly(keys.json.prettyPrinted + "\n", to: path, ownDirectory: false)
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a key and print it; it is not kept anywhere else.")
        @Argument(help: "The key's name: shown in listings and logs, and the owner of the terminals it starts.") var name: String
        @Option(
            help:
                "A grant: resources, a colon, methods, as in 'Switchboard.Pty,Switchboard.Shell:GET' or 'SwitchboardSamples.*:*' (repeatable). GET implies REPORT and HEAD."
        )
        var allow: [String] = []
        @OptionGroup var options: FileOption

        func run() throws {
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.@".contains($0) }) else {
                throw ValidationError("Key names are letters, digits and - _ . @")
            }
            guard name != AccessSetup.tokenOwner else { throw ValidationError("'\(AccessSetup.tokenOwner)' is the access token's name") }
            var grants: [AccessRights.Grant] = []
            for text in allow {
                do {
                    grants.append(try AccessRights.Grant(parsing: text))
                } catch {
                    throw ValidationError(error.message)
                }
            }
            var file = try options.read()
            guard !file.keys.contains(where: { $0.name == name }) else {
                throw KeyFileConflict(description: "There is already a key named '\(name)'; remove it first to replace it")
            }
            let key = APIKeyAuthenticator.generateKey()
            file.keys.append(.init(name: name, key: key, rights: AccessRights(grants)))
            try options.write(file)
            print(key)
            // A key without grants is refused everything (403): say so, rather than leave the user to find out.
            let rightless = grants.isEmpty ? " It has no rights: every request with it is refused (403); add it again with --allow." : ""
            // A grant names resources in full: `superhero` covers no `SwitchboardSamples.Superhero`.
            let short = grants.flatMap(\.resources).filter { $0 != "*" && !$0.contains(".") }
            let shortNames =
                short.isEmpty
                ? ""
                : " \(short.map { "'\($0)'" }.joined(separator: ", ")) covers only a resource of that full name: grants name resources in full, as in Switchboard.Shell or SwitchboardSamples.* (the server logs a grant that covers none of its resources)."
            FileHandle.standardError.write(
                Data(
                    "Key '\(name)' added to \(options.path). It is shown only now: keep it. Send SIGHUP to a running server to load it.\(rightless)\(shortNames)\n"
                        .utf8))
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the keys' names and rights.")
        @OptionGroup var options: FileOption

        func run() throws {
            let file = try options.read()
            for entry in file.keys {
                let rights = entry.rights.grants.isEmpty ? "(no rights)" : entry.rights.grants.map { Self.describe($0) }.joined(separator: "  ")
                print(entry.name + ": " + rights)
            }
            if !file.anonymous.isEmpty { print("(anonymous): " + file.anonymous.grants.map { Self.describe($0) }.joined(separator: "  ")) }
        }

        static func describe(_ grant: AccessRights.Grant) -> String {
            grant.resources.joined(separator: ",") + ":"
                + (grant.methods.map { set in RESTMethod.allCases.filter(set.contains).map(\.rawValue).joined(separator: ",") } ?? "*")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a key; SIGHUP to the server disconnects it.")
        @Argument(help: "The key's name.") var name: String
        @OptionGroup var options: FileOption

        func run() throws {
            var file = try options.read()
            guard file.keys.contains(where: { $0.name == name }) else { throw KeyFileConflict(description: "No key is named '\(name)'") }
            file.keys.removeAll { $0.name == name }
            try options.write(file)
            FileHandle.standardError.write(Data("Key '\(name)' removed from \(options.path).\n".utf8))
        }
    }
}

/// A key file that does not hold what the command needs (a name already taken, a name not there): the
/// command line was right, so the error comes without its usage, and with exit status 1.
struct KeyFileConflict: Error, CustomStringConvertible {
    let description: String
}
