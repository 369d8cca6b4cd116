import HTTPTypes

/// A named command of a ``CommandTerminal``.
public struct TerminalCommand<Terminal: TerminalResource>: Sendable {
    /// The word that runs it (no white space), matched in any case.
    public var name: String
    /// One line on what it does, shown in the command list.
    public var description: String
    /// The most arguments (words after the name) it takes.
    public var maxArguments: Int
    /// Runs the command on the terminal, with its arguments; a thrown error becomes a status line.
    public var run: @Sendable (isolated Terminal, _ arguments: [String], _ connection: TerminalConnection) async throws -> Void

    /// Creates a command.
    /// - Precondition: `name` is one word.
    public init(
        _ name: String, description: String, maxArguments: Int = 0,
        run: @escaping @Sendable (isolated Terminal, _ arguments: [String], _ connection: TerminalConnection) async throws -> Void
    ) {
        precondition(!name.isEmpty && !name.contains(where: \.isWhitespace), "A command's name is one word")
        self.name = name
        self.description = description
        self.maxArguments = maxArguments
        self.run = run
    }
}

/// A template for terminals driven by named commands (RESTable's command terminal): it shows the commands
/// when it opens, and answers `help` (the list again), `cancel` (back to the Shell) and every command it
/// declares, with its arguments split at white space.
///
/// ```swift
/// actor Dice: CommandTerminal {
///     static let commands: [TerminalCommand<Dice>] = [
///         TerminalCommand("roll", description: "Rolls a die with 6 sides, or as many as given", maxArguments: 1) { dice, arguments, connection in
///             let sides = Int(arguments.first ?? "6") ?? 6
///             try await connection.send("\(Int.random(in: 1...sides))")
///         }
///     ]
/// }
/// ```
/// An unknown command, or one with too many arguments, is a `400` status line, and the terminal goes on.
public protocol CommandTerminal: TextInputTerminal {
    /// The commands, in the order the list shows them.
    static var commands: [TerminalCommand<Self>] { get }
    /// Whether the command list is left out when the terminal opens (declare `@Property var silent = false`
    /// to let clients choose). Default `false`.
    var silent: Bool { get }
    /// The first line of the command list. Default `### <resource name> ###`.
    static var title: String { get }
}

extension CommandTerminal {
    public var silent: Bool { false }
    public static var title: String { "### \(resourceName) ###" }

    /// The command list: the title, the commands in columns, and what to type.
    public static var commandList: String {
        let all = commands.map { ($0.name, $0.description) } + [("help", "Prints this list"), ("cancel", "Returns to the Shell")]
        let width = all.map(\.0.count).max() ?? 0
        let lines = all.map { name, description in "  \(name)\(String(repeating: " ", count: width - name.count))  \(description)" }
        return ([title, "", "Commands:"] + lines + ["Type a command to continue, 'help' to print commands or 'cancel' to return to the shell"])
            .joined(separator: "\n")
    }

    public func open(_ connection: TerminalConnection) async throws {
        if !silent { try await connection.send(Self.commandList) }
    }

    public func receive(text: String, from connection: TerminalConnection) async throws {
        let words = text.split(whereSeparator: \.isWhitespace).map(String.init)
        guard let word = words.first else { return }
        let arguments = Array(words.dropFirst())
        switch word.lowercased() {
        case "help": try await connection.send(Self.commandList)
        case "cancel": try await connection.redirectToShell()
        default:
            guard let command = Self.commands.first(where: { $0.name.lowercased() == word.lowercased() }) else {
                throw SwitchboardError(
                    .badRequest, code: .unknownCommand, "Unknown command '\(SwitchboardError.excerpt(word))'; type 'help' for the commands")
            }
            guard arguments.count <= command.maxArguments else {
                throw SwitchboardError(
                    .badRequest, code: .invalidInput,
                    "Command '\(command.name)' takes \(command.maxArguments == 0 ? "no arguments" : "at most \(command.maxArguments) argument\(command.maxArguments == 1 ? "" : "s")"), but got \(arguments.count)"
                )
            }
            try await command.run(self, arguments, connection)
        }
    }

    public func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {}
}
