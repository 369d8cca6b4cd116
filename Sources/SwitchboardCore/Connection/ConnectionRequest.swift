#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
public import HTTPTypes

/// What a transport knows about a new connection: the URI it asked for and who it came from.
public struct ConnectionRequest: Sendable {
    /// The percent-encoded path below the API root, such as `/shell/autoget=true`; empty or `/` opens
    /// the Shell.
    public var path: String
    /// The query string after `?`, if any, still percent-encoded.
    public var query: String?
    /// The upgrade request's header fields.
    public var headers: HTTPFields
    /// The `Host` the client connected to.
    public var host: String
    /// The client's IP address, as the transport determined it (honouring proxies only when trusted).
    public var clientIP: String
    /// Whether the connection is encrypted (TLS, or a trusted proxy's `X-Forwarded-Proto: https`).
    public var isEncrypted: Bool
    /// Who the caller is, when the transport authenticated it before the upgrade
    /// (``SwitchboardAPI/authorizeConnection(uri:headers:uriKey:)``); when `nil`,
    /// ``SwitchboardAPI/serve(_:inbound:transport:)`` authenticates it from ``headers``.
    public var identity: AccessIdentity?

    public init(
        path: String, query: String? = nil, headers: HTTPFields = HTTPFields(), host: String = "", clientIP: String = "",
        isEncrypted: Bool = false, identity: AccessIdentity? = nil
    ) {
        self.identity = identity
        self.path = path
        self.query = query
        self.headers = headers
        self.host = host
        self.clientIP = clientIP
        self.isEncrypted = isEncrypted
    }

    /// The path and query as one URI relative to the API root.
    public var uri: String {
        guard let query, !query.isEmpty else { return path }
        return path + "?" + query
    }
}

/// A connection's profile, as `#INFO` shows it.
public struct ConnectionProfile: Sendable {
    /// The `Host` of the upgrade request.
    public var host: String
    /// The connection's short id, unique while the server runs; also used in logs.
    public var webSocketId: String
    /// Whether the connection is encrypted.
    public var isEncrypted: Bool
    /// The client's IP address.
    public var clientIP: String
    /// When the connection was opened.
    public var connectedAt: Date
    /// The full name of the attached terminal.
    public var currentTerminal: String
    /// The connection's headers, without the reserved ones (see `HTTPFields.isReserved(_:)`).
    public var customHeaders: HTTPFields

    /// The profile as JSON, in the field order `#INFO` uses.
    public var json: JSON {
        .object([
            "Host": .string(host),
            "WebSocketId": .string(webSocketId),
            "IsEncrypted": .bool(isEncrypted),
            "ClientIP": .string(clientIP),
            "ConnectedAt": .string(ISO8601.format(connectedAt)),
            "CurrentTerminal": .string(currentTerminal),
            "CustomHeaders": customHeaders.custom.json,
        ])
    }

    static let fieldNames = ["Host", "WebSocketId", "IsEncrypted", "ClientIP", "ConnectedAt", "CurrentTerminal", "CustomHeaders"]
}
