import HTTPTypes

/// An ordered list of HTTP header fields with case-insensitive names.
public struct HeaderList: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    /// The fields in order.
    public private(set) var fields: [(name: String, value: String)]

    public init(_ fields: [(name: String, value: String)] = []) { self.fields = fields }
    public init(dictionaryLiteral elements: (String, String)...) { self.fields = elements.map { ($0.0, $0.1) } }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }

    /// The first value of the named field.
    public subscript(name: String) -> String? {
        get {
            let lowered = name.lowercased()
            return fields.first { $0.name.lowercased() == lowered }?.value
        }
        set {
            let lowered = name.lowercased()
            let position = fields.firstIndex { $0.name.lowercased() == lowered }
            fields.removeAll { $0.name.lowercased() == lowered }
            if let newValue { fields.insert((name, newValue), at: Swift.min(position ?? fields.count, fields.count)) }
        }
    }

    /// Adds a field at the end, keeping any others of the same name.
    public mutating func append(name: String, value: String) { fields.append((name, value)) }

    public static func == (lhs: HeaderList, rhs: HeaderList) -> Bool {
        lhs.fields.count == rhs.fields.count && zip(lhs.fields, rhs.fields).allSatisfy { $0 == $1 }
    }

    /// Whether a header name is reserved: never shown as a custom header and never writable by clients.
    ///
    /// Reserved are `Host`, `Authorization`, `Proxy-Authorization`, `Cookie`, `Connection`, `Upgrade`,
    /// `Content-Length`, `Transfer-Encoding` and every `Sec-WebSocket-*` field.
    public static func isReserved(_ name: String) -> Bool {
        let lowered = name.lowercased()
        return reservedNames.contains(lowered) || lowered.hasPrefix("sec-websocket-")
    }

    static let reservedNames: Set<String> = [
        "host", "authorization", "proxy-authorization", "cookie", "connection", "upgrade", "content-length",
        "transfer-encoding",
    ]

    /// The fields that are not reserved.
    public var custom: HeaderList { HeaderList(fields.filter { !Self.isReserved($0.name) }) }

    /// Whether a header name is a valid HTTP token.
    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty
            && name.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"):
                    true
                default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
                }
            }
    }

    /// Whether a header value can be sent as it is: no CR, LF or NUL anywhere, checked by Unicode scalar
    /// (as characters, `"\r\n"` is one grapheme that equals neither `"\r"` nor `"\n"`).
    static func isValidValue(_ value: String) -> Bool {
        !value.unicodeScalars.contains { $0 == "\r" || $0 == "\n" || $0 == "\0" }
    }

    /// Whether a header's name suggests a credential (it contains `key`, `token`, `secret`, `password`,
    /// `auth` or `session`): listings show that it was sent, never its value.
    static func looksSecret(_ name: String) -> Bool {
        let lowered = name.lowercased()
        return ["key", "token", "secret", "password", "passwd", "auth", "session", "credential"].contains { lowered.contains($0) }
    }

    /// The fields as a JSON object of strings, in order (the Shell's `HEADERS` shows the custom ones so).
    public var json: JSON { .object(JSONObject(fields.map { ($0.name, .string($0.value)) })) }
}

// MARK: Custom headers

extension HeaderList {
    /// Applies `#INFO {json}`: only `CustomHeaders` is writable; a `null` header value removes the header.
    func updatingCustomHeaders(from object: JSONObject) throws(SwitchboardError) -> HeaderList {
        var headers = self
        for (key, value) in object.members {
            guard key.lowercased() == "customheaders" else {
                if let field = ConnectionProfile.fieldNames.first(where: { $0.lowercased() == key.lowercased() }) {
                    throw SwitchboardError(
                        .badRequest, code: .readOnlyProperty, "Profile field '\(field)' is read-only; only CustomHeaders can be set")
                }
                throw SwitchboardError(
                    .notFound, code: .unknownProperty,
                    "Unknown profile field '\(key)'; the fields are \(ConnectionProfile.fieldNames.joined(separator: ", ")), and only CustomHeaders can be set"
                )
            }
            guard case .object(let fields) = value else {
                throw SwitchboardError(
                    .badRequest, code: .invalidPropertyValue,
                    "CustomHeaders must be an object of header names to string values (or null to remove), but got \(value.kindDescription)"
                )
            }
            for (name, fieldValue) in fields.members {
                guard HeaderList.isValidName(name) else {
                    throw SwitchboardError(.badRequest, code: .invalidInput, "'\(name)' is not a valid header name")
                }
                if HeaderList.isReserved(name) {
                    throw SwitchboardError(
                        .badRequest, code: .reservedHeader, "Cannot read or write reserved header '\(name)'")
                }
                switch fieldValue {
                case .null: headers[name] = nil
                case .string(let text) where HeaderList.isValidValue(text):
                    headers[name] = text
                default:
                    throw SwitchboardError(
                        .badRequest, code: .invalidPropertyValue,
                        "The value of header '\(name)' must be a string without line breaks, or null to remove it; got \(fieldValue.kindDescription)"
                    )
                }
            }
        }
        return headers
    }
}
