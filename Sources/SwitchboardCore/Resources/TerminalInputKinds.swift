/// The kinds of input a terminal accepts.
public struct TerminalInputKinds: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// Text messages.
    public static let text = TerminalInputKinds(rawValue: 1)
    /// Binary messages.
    public static let binary = TerminalInputKinds(rawValue: 2)
}
