import HTTPTypes

/// A way of writing the entities of a REST answer other than JSON, chosen by the request's `Accept`
/// header (over HTTP, and with the Shell's `HEADER Accept = ...`).
///
/// A format writes lists of entities: the answers to `GET` and the entities a `POST`, `PUT`, `PATCH` or
/// `DELETE` changed. Everything else (errors, counts, `OPTIONS` documents) stays JSON whatever the client
/// accepts, with `Content-Type: application/json`, so an error is always readable.
///
/// JSON Lines (``JSONLinesFormat``) is built in; CSV comes with the `SwitchboardCSV` module. Register a
/// format with ``SwitchboardAPI/register(format:)``.
public protocol ResponseFormat: Sendable {
    /// The media types the format answers, lowercase, without parameters (`text/csv`).
    var mediaTypes: [String] { get }
    /// The `Content-Type` of its answers (`text/csv; charset=utf-8`).
    var contentType: String { get }
    /// Writes the entities, in order, as the body of an answer.
    /// - Parameter entities: Output objects, after `select`, `add` and `rename`.
    func write(_ entities: [JSON]) throws -> [UInt8]
}

/// JSON Lines: one entity per line, each a compact JSON object (`application/x-ndjson`,
/// `application/jsonlines`, `application/x-jsonlines`, or `jl`).
public struct JSONLinesFormat: ResponseFormat {
    public init() {}
    public var mediaTypes: [String] { ["application/x-ndjson", "application/jsonlines", "application/x-jsonlines", "jl"] }
    public var contentType: String { "application/x-ndjson; charset=utf-8" }

    public func write(_ entities: [JSON]) throws -> [UInt8] {
        var bytes: [UInt8] = []
        for entity in entities {
            bytes.append(contentsOf: entity.utf8(pretty: false))
            bytes.append(UInt8(ascii: "\n"))
        }
        return bytes
    }
}

/// What a request's `Accept` header asks for: a format (`nil` for JSON) and JSON's parameters.
struct AcceptedFormat {
    /// The format, or `nil` for JSON.
    var format: (any ResponseFormat)?
    /// `raw=true`: the bare array of entities, without the envelope.
    var raw = false
    /// `single=true`: the one entity found, as an object.
    var single = false
    /// A document type of some resource (``EntityDocumentResource``): the one entity found, as its document.
    var documentType: String?

    init() {}

    static let jsonTypes: Set<String> = ["*/*", "application/*", "application/json", "json", "text/plain", "text/*"]

    /// The type of the header the client prefers (the highest `q`, then the client's order) that JSON or a
    /// registered format answers; a type with `q=0` is one the client refuses (RFC 9110 §12.5.1).
    /// - Throws: `406` when none does.
    /// `documentTypes` is read only when the header names a type that JSON and the formats do not answer.
    init(_ accept: String?, formats: [any ResponseFormat], documentTypes: @autoclosure () -> Set<String> = []) throws(SwitchboardError) {
        guard let accept, !accept.trimmingWhitespace().isEmpty else { return }
        var items = accept.split(separator: ",")
        // Weights are rare (browsers send them, API clients mostly do not): only then is the list reordered.
        if accept.contains("q=") {
            // Stable: among equal weights, the client's order.
            items = items.enumerated().map { (item: $0.element, offset: $0.offset, weight: Self.weight(of: $0.element)) }
                .filter { $0.weight > 0 }
                .sorted { ($0.weight, -$0.offset) > ($1.weight, -$1.offset) }
                .map(\.item)
        }
        for item in items {
            let parts = item.split(separator: ";").map { $0.trimmingWhitespace().lowercased() }
            guard let type = parts.first else { continue }
            let parameters = Set(parts.dropFirst().map { $0.replacingSpaces() })
            if Self.jsonTypes.contains(type) {
                raw = parameters.contains("raw=true")
                single = parameters.contains("single=true")
                return
            }
            if let format = formats.first(where: { $0.mediaTypes.contains(type) }) {
                self.format = format
                return
            }
            if documentTypes().contains(type) {
                documentType = type
                return
            }
        }
        let offered = (["application/json"] + formats.compactMap(\.mediaTypes.first) + documentTypes().sorted()).joined(separator: ", ")
        throw SwitchboardError(
            .notAcceptable, code: .notAcceptable, "Cannot produce '\(accept.prefix(200))'; this API answers with \(offered)")
    }

    /// An item's `q` parameter: 1 without one, or with one that is not a number from 0 to 1 (ignored).
    static func weight(of item: Substring) -> Double {
        let parameters = item.split(separator: ";").dropFirst().map { $0.trimmingWhitespace().lowercased() }
        guard let q = parameters.first(where: { $0.replacingSpaces().hasPrefix("q=") }),
            let value = Double(q.replacingSpaces().dropFirst(2)), value >= 0, value <= 1
        else { return 1 }
        return value
    }
}
