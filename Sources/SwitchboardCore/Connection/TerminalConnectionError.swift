/// Why a ``TerminalConnection`` could not send.
public struct TerminalConnectionError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Value: Hashable { case detached, closed }
    private let value: Value
    /// The terminal is no longer attached: the connection switched to another terminal.
    public static let detached = TerminalConnectionError(value: .detached)
    /// The connection is closed.
    public static let closed = TerminalConnectionError(value: .closed)
    public var description: String {
        switch value {
        case .detached: "The terminal is no longer attached to the connection"
        case .closed: "The connection is closed"
        }
    }
}
