public import HTTPTypes
public import Logging

/// An error with an HTTP status, a stable error code and a message for the client.
///
/// Every failure Switchboard reports to a client is one of these. Over WebSocket it becomes a status line
/// (``statusLine``), over HTTP a status code and a JSON error body. Throw one from a terminal's handler to
/// choose the status the client sees; any other error is reported as `500: Internal server error`.
///
/// ```swift
/// throw SwitchboardError(.badRequest, code: .invalidInput, "Expected a number between 1 and 10")
/// ```
public struct SwitchboardError: Error, Sendable, CustomStringConvertible {
    /// The HTTP status code (400, 404, 500, ...).
    public var status: Int
    /// A stable machine-readable name for the kind of error.
    public var code: Code
    /// The human-readable message; it says what was wrong and what was expected.
    public var message: String
    /// The id of the error's entry in `Switchboard.Admin.Error`, once the API has answered with it
    /// (``ErrorLog``); the status line then names the entry.
    public var errorEntry: Int?
    /// For refused property values, each property in error with what is wrong with it (``InvalidProperties``);
    /// the JSON error body has it as `InvalidProperties`.
    public var invalidProperties: JSONObject?

    /// Creates an error.
    /// - Parameters:
    ///   - status: The HTTP status.
    ///   - code: The error code.
    ///   - message: What went wrong and what was expected.
    public init(_ status: HTTPResponse.Status, code: Code, _ message: String) {
        self.status = status.code
        self.code = code
        self.message = message
    }

    /// The status line sent to WebSocket clients: `<status>: <reason phrase>. <message>`, and once the error
    /// is logged, the entry that has it: ` (see /Switchboard.Admin.Error/Id=4)`.
    public var statusLine: String {
        let reason = Self.reasonPhrase(for: status)
        return (message.isEmpty ? "\(status): \(reason)." : "\(status): \(reason). \(message)") + entryReference
    }

    /// ` (see /Switchboard.Admin.Error/Id=4)`, or nothing before the error is logged.
    var entryReference: String {
        errorEntry.map { " (see \(Self.entryURI($0)))" } ?? ""
    }

    /// The URI of an entry of `Switchboard.Admin.Error`, relative to the API root.
    public static func entryURI(_ id: Int) -> String { "/\(ErrorLog.resourceName)/Id=\(id)" }

    public var description: String { statusLine }

    /// A client's word as a message quotes it: control characters escaped, at most 40 characters, so that
    /// an error can repeat what it refuses without carrying escape sequences or a flood back to the client.
    public static func excerpt(_ word: String) -> String {
        var result = ""
        for (index, scalar) in word.unicodeScalars.enumerated() {
            if index == 40 { return result + "…" }
            result += scalar.properties.generalCategory == .control ? "\\u{\(String(scalar.value, radix: 16))}" : String(scalar)
        }
        return result
    }

    /// The JSON error body HTTP clients get: `{"Status": "fail", "StatusCode", "ErrorCode", "Message", "Uri"}`.
    /// - Parameter uri: The request's URI, relative to the API root.
    public func body(uri: String) -> JSON {
        var body: JSONObject = [
            "Status": "fail", "StatusCode": .int(status), "ErrorCode": .string(code.rawValue), "Message": .string(message),
            "Uri": .string(uri),
        ]
        if let invalidProperties { body["InvalidProperties"] = .object(invalidProperties) }
        return .object(body)
    }

    /// The statuses Switchboard answers with, to find a code's standard reason phrase (swift-http-types
    /// keeps the phrases on its constants only).
    private static let standardStatuses: [Int: HTTPResponse.Status] = Dictionary(
        uniqueKeysWithValues: [
            HTTPResponse.Status.ok, .created, .noContent, .badRequest, .unauthorized, .forbidden, .notFound,
            .methodNotAllowed, .notAcceptable, .conflict, .contentTooLarge, .uriTooLong, .unsupportedMediaType,
            .upgradeRequired, .tooManyRequests, .requestHeaderFieldsTooLarge, .internalServerError, .notImplemented,
            .serviceUnavailable,
        ].map { ($0.code, $0) })

    /// The status of a code, with its standard reason phrase when Switchboard answers with it.
    public static func standardStatus(_ code: Int) -> HTTPResponse.Status {
        standardStatuses[code] ?? HTTPResponse.Status(code: code)
    }

    /// The reason phrase Switchboard writes in status lines: the standard phrase in sentence case, as a
    /// line reads (`Not found`, `Bad request`, `Content too large`; acronyms such as `OK` and `URI` stay).
    public static func reasonPhrase(for status: Int) -> String {
        reasonPhrases[status] ?? makeReasonPhrase(for: status)
    }

    /// The phrases of the statuses Switchboard answers with, made once: every status line needs one.
    private static let reasonPhrases = Dictionary(uniqueKeysWithValues: standardStatuses.keys.map { ($0, makeReasonPhrase(for: $0)) })

    private static func makeReasonPhrase(for status: Int) -> String {
        let phrase = standardStatus(status).reasonPhrase
        guard !phrase.isEmpty else { return "Status \(status)" }
        let words = phrase.split(separator: " ").enumerated().map { index, word in
            index == 0 || word.allSatisfy(\.isUppercase) ? String(word) : word.lowercased()
        }
        return words.joined(separator: " ")
    }

    /// A stable name for a kind of error, written in the JSON error body as `ErrorCode`.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let invalidURISyntax = Code(rawValue: "InvalidUriSyntax")
        public static let uriTooLong = Code(rawValue: "UriTooLong")
        public static let invalidConditionSyntax = Code(rawValue: "InvalidConditionSyntax")
        public static let invalidConditionOperator = Code(rawValue: "InvalidConditionOperator")
        public static let invalidConditionValue = Code(rawValue: "InvalidConditionValue")
        public static let invalidMetaCondition = Code(rawValue: "InvalidMetaCondition")
        public static let unknownResource = Code(rawValue: "UnknownResource")
        public static let ambiguousResource = Code(rawValue: "AmbiguousResource")
        public static let unknownProperty = Code(rawValue: "UnknownProperty")
        public static let readOnlyProperty = Code(rawValue: "ReadOnlyProperty")
        public static let invalidPropertyValue = Code(rawValue: "InvalidPropertyValue")
        public static let jsonSyntax = Code(rawValue: "JsonSyntaxError")
        public static let invalidInput = Code(rawValue: "InvalidInput")
        public static let reservedHeader = Code(rawValue: "ReservedHeader")
        public static let unsupportedInput = Code(rawValue: "UnsupportedInput")
        public static let methodNotAllowed = Code(rawValue: "MethodNotAllowed")
        /// A method the server supports for no resource (`501`).
        public static let methodNotImplemented = Code(rawValue: "MethodNotImplemented")
        public static let upgradeRequired = Code(rawValue: "UpgradeRequired")
        /// A WebSocket upgrade asked for where nothing opens one (`404`): outside the API root, or a page.
        public static let noWebSocketEndpoint = Code(rawValue: "NoWebSocketEndpoint")
        public static let shellError = Code(rawValue: "ShellError")
        public static let unknownCommand = Code(rawValue: "UnknownCommand")
        public static let terminalError = Code(rawValue: "TerminalError")
        public static let internalError = Code(rawValue: "InternalError")
        public static let unauthorized = Code(rawValue: "Unauthorized")
        public static let forbidden = Code(rawValue: "Forbidden")
        public static let originNotAllowed = Code(rawValue: "OriginNotAllowed")
        public static let hostNotAllowed = Code(rawValue: "HostNotAllowed")
        public static let tooManyConnections = Code(rawValue: "TooManyConnections")
        public static let ambiguousMatch = Code(rawValue: "AmbiguousMatch")
        public static let invalidEntity = Code(rawValue: "InvalidEntity")
        public static let notAcceptable = Code(rawValue: "NotAcceptable")
        public static let queryTimeout = Code(rawValue: "QueryTimeout")
        /// Nothing matched where exactly one entity was asked for (`Accept: application/json; single=true`).
        public static let noMatch = Code(rawValue: "NoMatch")
        /// The other instances of the cluster cannot be reached (its database is down).
        public static let clusterUnavailable = Code(rawValue: "ClusterUnavailable")
    }
}

extension SwitchboardError {
    /// Wraps any error as a `SwitchboardError`: a `SwitchboardError` is returned as it is, a JSON
    /// syntax error becomes a 400, anything else a 500.
    ///
    /// A 500 never carries the error's own text, which may hold paths, SQL or other internals: the client
    /// reads `500: Internal server error. The details are in the server log under error id 7Kq2mXa9`, and the
    /// error's description is logged (label `switchboard.error`, level error) with `sb.error.id` set to that id.
    public init(wrapping error: any Error, logger: Logger = SwitchboardError.logger) {
        switch error {
        case let error as SwitchboardError: self = error
        case let error as InvalidProperties: self = error.switchboardError
        case let error as JSONSyntaxError: self = SwitchboardError(.badRequest, code: .jsonSyntax, error.description)
        default: self = .internal(error, logger: logger)
        }
    }

    /// A 500 for an unexpected error: a fresh error id for the client, the details in the log under it.
    /// - Parameters:
    ///   - error: The error; its description goes to the log only.
    ///   - logger: Where to log it (with `sb.error.id`, `error.type` and `error`).
    ///   - message: The log message.
    public static func `internal`(
        _ error: any Error, logger: Logger = SwitchboardError.logger, message: Logger.Message = "Internal error"
    ) -> SwitchboardError {
        let id = newErrorID()
        logger.error(message, metadata: ["sb.error.id": .string(id), "error.type": "\(type(of: error))", "error": "\(error)"])
        return SwitchboardError(.internalServerError, code: .internalError, "The details are in the server log under error id \(id)")
    }

    /// Where ``SwitchboardError/internal(_:logger:message:)`` logs by default.
    public static let logger = Logger(label: "switchboard.error")

    static func newErrorID() -> String {
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        return String((0..<8).map { _ in alphabet.randomElement()! })
    }
}
