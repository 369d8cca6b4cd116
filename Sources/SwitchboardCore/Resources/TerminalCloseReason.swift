/// Why a terminal was detached.
public struct TerminalCloseReason: Sendable, Hashable, CustomStringConvertible {
    private enum Value: Hashable { case switched, disconnected, shutdown }
    private let value: Value
    /// The connection switched to another terminal; it stays open.
    public static let switched = TerminalCloseReason(value: .switched)
    /// The connection closed.
    public static let disconnected = TerminalCloseReason(value: .disconnected)
    /// The server is shutting down.
    public static let shutdown = TerminalCloseReason(value: .shutdown)
    public var description: String {
        switch value {
        case .switched: "switched"
        case .disconnected: "disconnected"
        case .shutdown: "shutdown"
        }
    }
}
