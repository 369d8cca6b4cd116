public import Switchboard

/// A command terminal (``CommandTerminal``): rolls dice and remembers the rolls.
///
/// `ws://127.0.0.1:8080/api/dice`, then `roll`, `roll 20`, `roll 6 3`, `history`, `clear`, `help`, or
/// `cancel` to return to the Shell. `/api/dice/silent=true` opens it without the command list.
public actor Dice: CommandTerminal {
    public static var resourceDescription: String { "Rolls dice: a command terminal (roll, history, clear, help, cancel)" }

    /// Whether the command list is left out when the terminal opens.
    @Property(description: "Leave out the command list when the terminal opens") public var silent = false
    private var rolls: [Int] = []

    public init() {}

    public static let commands: [TerminalCommand<Dice>] = [
        TerminalCommand("roll", description: "Rolls dice: roll [sides, 6 by default] [count, 1 by default]", maxArguments: 2) {
            dice, arguments, connection in
            let numbers = try arguments.map { word in
                guard let number = Int(word), (1...1000).contains(number) else {
                    throw SwitchboardError(.badRequest, code: .invalidInput, "'\(SwitchboardError.excerpt(word))' is not a number from 1 to 1000")
                }
                return number
            }
            let (sides, count) = (numbers.first ?? 6, numbers.dropFirst().first ?? 1)
            let thrown = (0..<count).map { _ in Int.random(in: 1...sides) }
            dice.rolls += thrown
            try await connection.send(thrown.map(String.init).joined(separator: " "))
        },
        TerminalCommand("history", description: "Lists the rolls so far") { dice, _, connection in
            try await connection.send(dice.rolls.isEmpty ? "No rolls yet" : dice.rolls.map(String.init).joined(separator: " "))
        },
        TerminalCommand("clear", description: "Forgets the rolls") { dice, _, connection in
            dice.rolls = []
            try await connection.send("Cleared")
        },
    ]
}
