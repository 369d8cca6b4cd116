/// A WebSocket close code: the standard ones, and 4000 + HTTP status for errors that end a connection.
public struct CloseCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public var description: String { String(rawValue) }

    /// 1000: the connection did what it was for.
    public static let normalClosure = CloseCode(rawValue: 1000)
    /// 1001: the server is going away (shutting down).
    public static let goingAway = CloseCode(rawValue: 1001)
    /// 1008: a policy was violated.
    public static let policyViolation = CloseCode(rawValue: 1008)
    /// 1011: the server met an unexpected condition.
    public static let unexpectedServerError = CloseCode(rawValue: 1011)
    /// 1013: the server is overloaded for now; the client may try again later.
    public static let tryAgainLater = CloseCode(rawValue: 1013)
    /// 4000 + status: the connection is closed because of an error with this HTTP status (4404, 4400, ...).
    public static func status(_ status: Int) -> CloseCode { CloseCode(rawValue: UInt16(4000 + min(max(status, 0), 999))) }
}
