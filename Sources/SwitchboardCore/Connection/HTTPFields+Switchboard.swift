public import HTTPTypes

extension HTTPField.Name {
    /// `Switchboard-Info`: one line on what a REST request did (`2 entities updated in 'Samples.Superhero'`).
    public static let switchboardInfo = HTTPField.Name("Switchboard-Info")!
    /// The entry of `Switchboard.Admin.Error` that holds a failed request's error (`/Switchboard.Admin.Error/Id=4`).
    public static let switchboardError = HTTPField.Name("Switchboard-Error")!
    /// `Switchboard-Elapsed-Ms`: how long a REST request took, in milliseconds.
    public static let switchboardElapsedMs = HTTPField.Name("Switchboard-Elapsed-Ms")!
}

/// Switchboard's policy for the header fields of connections and requests: which are reserved, which are
/// shown as custom headers, and how clients change them.
extension HTTPFields {
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
    public var custom: HTTPFields { HTTPFields(filter { !Self.isReserved($0.name.rawName) }) }

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
    public var json: JSON { .object(JSONObject(map { ($0.name.rawName, .string($0.value)) })) }
}

// MARK: Custom headers

extension HTTPFields {
    /// Applies `#INFO {json}`: only `CustomHeaders` is writable; a `null` header value removes the header.
    func updatingCustomHeaders(from object: JSONObject) throws(SwitchboardError) -> HTTPFields {
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
                guard let fieldName = HTTPField.Name(name) else {
                    throw SwitchboardError(.badRequest, code: .invalidInput, "'\(SwitchboardError.excerpt(name))' is not a valid header name")
                }
                if Self.isReserved(name) {
                    throw SwitchboardError(
                        .badRequest, code: .reservedHeader, "Cannot read or write reserved header '\(name)'")
                }
                switch fieldValue {
                case .null: headers[fieldName] = nil
                case .string(let text) where Self.isValidValue(text):
                    headers[fieldName] = text
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
