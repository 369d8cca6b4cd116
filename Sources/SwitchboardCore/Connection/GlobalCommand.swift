/// A global command: `#` followed by a letter, handled by Switchboard for every terminal.
struct GlobalCommand: Equatable {
    enum Kind: Equatable { case terminal, info, shell, disconnect, options }
    let kind: Kind
    let word: String
    /// The text after the command word, trimmed; `nil` when there is none.
    let argument: String?

    /// Reads a global command; `nil` when the text is not one (including unknown `#WORD`s, which go to
    /// the terminal).
    init?(_ text: String) {
        let trimmed = text.trimmingWhitespace()
        guard trimmed.hasPrefix("#"), let second = trimmed.dropFirst().first, second.isLetter else { return nil }
        let word = trimmed.prefix { !$0.isWhitespace }
        switch word.uppercased() {
        case "#TERMINAL": kind = .terminal
        case "#INFO": kind = .info
        case "#SHELL", "#HOME": kind = .shell
        case "#DISCONNECT": kind = .disconnect
        case "#OPTIONS": kind = .options
        default: return nil
        }
        self.word = word.uppercased()
        let rest = trimmed.dropFirst(word.count).trimmingWhitespace()
        argument = rest.isEmpty ? nil : rest
    }
}
