import HTTPTypes

/// A comparison operator in a URI condition.
public enum ConditionOperator: String, Sendable, CaseIterable {
    case equal = "="
    case notEqual = "!="
    case lessThan = "<"
    case greaterThan = ">"
    case lessThanOrEqual = "<="
    case greaterThanOrEqual = ">="
}

/// One `key<op>value` piece of a URI's conditions or meta-conditions, percent-decoded.
public struct URICondition: Sendable, Equatable {
    /// The property name as written.
    public var key: String
    /// The operator.
    public var op: ConditionOperator
    /// The value as written (decoded, quotes kept); see ``PropertyLiteral`` for its interpretation.
    public var value: String

    public init(key: String, op: ConditionOperator, value: String) {
        self.key = key
        self.op = op
        self.value = value
    }
}

/// A parsed resource URI: `/<resource>[/<conditions>[/<metaconditions>]]` or `/<resource>?<conditions>`,
/// relative to the API root.
///
/// The raw path is split on `/` and `&` before percent-decoding, so an encoded `%2F` or `%26` stays part
/// of a value. `_` or an empty segment means "none".
public struct ResourceURI: Sendable, Equatable {
    /// The resource name as written (decoded), with its view if any (`superhero-modern`); empty for the
    /// default resource.
    public var resourceName: String

    /// The resource name without the view: what comes before the first `-`.
    public var baseResourceName: String {
        guard let dash = viewDash else { return resourceName }
        return String(resourceName[..<dash])
    }

    /// The view named after the first `-` of the resource name (`modern` in `superhero-modern`), if any.
    public var viewName: String? {
        guard let dash = viewDash else { return nil }
        return String(resourceName[resourceName.utf8.index(after: dash)...])
    }

    /// Where the first `-` of the resource name is, found among its bytes (no other character's UTF-8 holds a
    /// `-` byte; a mark combined with the `-` makes a view name that no view has, as it made a resource name
    /// that no resource has when the search went by characters).
    private var viewDash: String.Index? {
        // Looked for in the contiguous bytes where they are (a native string's always are): the generic search
        // through the UTF-8 view cost more than the rest of a name's lookup.
        let utf8 = resourceName.utf8
        guard let found = utf8.withContiguousStorageIfAvailable({ $0.firstIndex(of: UInt8(ascii: "-")) }) else {
            return utf8.firstIndex(of: UInt8(ascii: "-"))
        }
        return found.map { utf8.index(utf8.startIndex, offsetBy: $0) }
    }
    /// The conditions in URI order.
    public var conditions: [URICondition]
    /// The meta-conditions in URI order.
    public var metaConditions: [URICondition]

    /// The longest URI, in bytes, that ``init(parsing:maxLength:)`` accepts by default.
    public static let defaultMaxLength = 8192

    /// Parses a URI relative to the API root.
    /// - Parameters:
    ///   - raw: The percent-encoded path, optionally followed by `?` and conditions. A leading `/` is optional.
    ///   - maxLength: The longest accepted URI in bytes (default 8192); longer is a `414` error.
    /// - Throws: ``SwitchboardError`` (400 or 414) that says what is wrong and where.
    public init(parsing raw: String, maxLength: Int = ResourceURI.defaultMaxLength) throws(SwitchboardError) {
        if raw.utf8.count > maxLength {
            throw SwitchboardError(
                .uriTooLong, code: .uriTooLong, "The URI is \(raw.utf8.count) bytes long; the limit is \(maxLength)")
        }
        if let plain = raw.utf8.withContiguousStorageIfAvailable(Self.parsePlain), let plain {
            self = plain
            return
        }
        try self.init(parsingAnyURI: raw)
    }

    /// Parses any URI of at most the longest length: what ``init(parsing:maxLength:)`` does when the fast way of
    /// ``parsePlain(_:)`` does not apply, and what says what is wrong with a URI.
    init(parsingAnyURI raw: String) throws(SwitchboardError) {
        // Bytes: a control character's only byte is its scalar's value, and no other character's UTF-8 has one.
        if let bad = raw.utf8.first(where: { $0 < 0x20 || $0 == 0x7F }) {
            throw SwitchboardError(
                .badRequest, code: .invalidURISyntax,
                "Syntax error: the URI contains the control character U+\(String(bad, radix: 16, uppercase: true).leftPadded(4)); percent-encode it"
            )
        }
        // An ASCII URI (nearly every one) is cut by its bytes, where bytes and characters are one: cutting a
        // `String` by `Character` runs grapheme breaking over every byte (a fifth of an HTTP GET's work).
        let ascii = raw.utf8.allSatisfy { $0 < 0x80 }
        var path = Substring(raw)
        var query: Substring?
        if let mark = ascii ? path.utf8.firstIndex(of: UInt8(ascii: "?")) : path.firstIndex(of: "?") {
            query = path[path.utf8.index(after: mark)...]
            path = path[..<mark]
        }
        if ascii ? path.utf8.first == UInt8(ascii: "/") : path.hasPrefix("/") {
            path = path[path.utf8.index(after: path.startIndex)...]
        }
        var segments = Self.split(path, at: UInt8(ascii: "/"), ascii: ascii)
        if segments.count > 1, segments.last?.isEmpty == true { segments.removeLast() }
        if segments.count > 3 {
            throw SwitchboardError(
                .badRequest, code: .invalidURISyntax,
                "Syntax error: '/\(path)' has \(segments.count) segments; expected at most /<resource>/<conditions>/<metaconditions> (percent-encode '/' inside values as %2F)"
            )
        }
        let resourceSegment = segments.first ?? ""
        resourceName = resourceSegment == "_" ? "" : try Self.decode(resourceSegment, what: "the resource name")
        if resourceName.containsWhitespace {
            throw SwitchboardError(
                .badRequest, code: .invalidURISyntax, "Syntax error: the resource name '\(resourceName)' contains white space")
        }
        conditions = segments.count > 1 ? try Self.parseConditions(segments[1], meta: false, ascii: ascii) : []
        metaConditions = segments.count > 2 ? try Self.parseConditions(segments[2], meta: true, ascii: ascii) : []
        if let query, !query.isEmpty {
            if !conditions.isEmpty || segments.count > 2 {
                throw SwitchboardError(
                    .badRequest, code: .invalidURISyntax,
                    "Syntax error: conditions are given both in the path and after '?'; use one or the other")
            }
            conditions = try Self.parseConditions(query, meta: false, ascii: ascii)
        }
    }

    /// The URI read from its bytes in one pass, when it is plain (printable ASCII without a `%` escape, as nearly
    /// every URI is) and valid; `nil` for every other URI, which ``init(parsingAnyURI:)`` reads (and refuses
    /// where it is wrong, so that every message is made in one place). Cutting and decoding through `String`'s
    /// views cost an HTTP `GET` more than the rest of its URI's work.
    static func parsePlain(_ bytes: UnsafeBufferPointer<UInt8>) -> ResourceURI? {
        var query: Int?
        for (offset, byte) in bytes.enumerated() {
            guard byte >= 0x20, byte < 0x7F, byte != UInt8(ascii: "%") else { return nil }
            if query == nil, byte == UInt8(ascii: "?") { query = offset }
        }
        let pathEnd = query ?? bytes.count
        var start = bytes.first == UInt8(ascii: "/") ? 1 : 0
        // At most three segments, and a fourth that is empty (a trailing `/`).
        var segments: [Range<Int>] = []
        segments.reserveCapacity(4)
        for offset in start..<pathEnd where bytes[offset] == UInt8(ascii: "/") {
            if segments.count == 3 { return nil }
            segments.append(start..<offset)
            start = offset + 1
        }
        if segments.count == 3 && start < pathEnd { return nil }
        if segments.isEmpty || start < pathEnd { segments.append(start..<pathEnd) }
        func text(_ range: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self) }
        func isPlaceholder(_ range: Range<Int>) -> Bool { range.count == 1 && bytes[range.lowerBound] == UInt8(ascii: "_") }
        func conditions(_ range: Range<Int>) -> [URICondition]? {
            if range.isEmpty || isPlaceholder(range) { return [] }
            var result: [URICondition] = []
            var pieceStart = range.lowerBound
            for offset in range.lowerBound...range.upperBound where offset == range.upperBound || bytes[offset] == UInt8(ascii: "&") {
                guard let condition = condition(pieceStart..<offset) else { return nil }
                result.append(condition)
                pieceStart = offset + 1
            }
            return result
        }
        func condition(_ range: Range<Int>) -> URICondition? {
            // The key runs up to the first operator character; no space in it, and not empty.
            var index = range.lowerBound
            while index < range.upperBound {
                let byte = bytes[index]
                if byte == UInt8(ascii: " ") { return nil }
                if byte == UInt8(ascii: "=") || byte == UInt8(ascii: "!") || byte == UInt8(ascii: "<") || byte == UInt8(ascii: ">") { break }
                index += 1
            }
            guard index > range.lowerBound, index < range.upperBound else { return nil }
            let next = index + 1 < range.upperBound ? bytes[index + 1] : nil
            let orEqual = next == UInt8(ascii: "=")
            let op: ConditionOperator
            switch bytes[index] {
            case UInt8(ascii: "="): op = .equal
            case UInt8(ascii: "!"):
                guard orEqual else { return nil }
                op = .notEqual
            case UInt8(ascii: "<"): op = orEqual ? .lessThanOrEqual : .lessThan
            default: op = orEqual ? .greaterThanOrEqual : .greaterThan
            }
            let valueStart = index + (op == .equal || op == .lessThan || op == .greaterThan ? 1 : 2)
            return URICondition(key: text(range.lowerBound..<index), op: op, value: text(valueStart..<range.upperBound))
        }
        let resource = segments[0]
        if bytes[resource].contains(UInt8(ascii: " ")) { return nil }
        var uri = ResourceURI(resourceName: isPlaceholder(resource) ? "" : text(resource))
        if segments.count > 1 {
            guard let parsed = conditions(segments[1]) else { return nil }
            uri.conditions = parsed
        }
        if segments.count > 2 {
            guard let parsed = conditions(segments[2]) else { return nil }
            uri.metaConditions = parsed
        }
        if let query, query + 1 < bytes.count {
            guard uri.conditions.isEmpty, segments.count <= 2, let parsed = conditions(query + 1..<bytes.count) else { return nil }
            uri.conditions = parsed
        }
        return uri
    }

    /// `text` cut at every `separator` (an ASCII byte), empty pieces kept: by bytes when the text is `ascii`,
    /// by characters otherwise (a separator followed by a combining mark is one character, and not cut).
    static func split(_ text: Substring, at separator: UInt8, ascii: Bool) -> [Substring] {
        guard ascii else {
            return text.split(separator: Character(Unicode.Scalar(separator)), omittingEmptySubsequences: false)
        }
        var pieces: [Substring] = []
        let utf8 = text.utf8
        var start = utf8.startIndex
        var index = start
        while index < utf8.endIndex {
            if utf8[index] == separator {
                pieces.append(text[start..<index])
                start = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        pieces.append(text[start...])
        return pieces
    }

    /// Creates a URI from parts.
    public init(resourceName: String, conditions: [URICondition] = [], metaConditions: [URICondition] = []) {
        self.resourceName = resourceName
        self.conditions = conditions
        self.metaConditions = metaConditions
    }

    static func parseConditions(_ segment: Substring, meta: Bool, ascii: Bool) throws(SwitchboardError) -> [URICondition] {
        if segment.isEmpty || segment == "_" { return [] }
        var result: [URICondition] = []
        for piece in split(segment, at: UInt8(ascii: "&"), ascii: ascii) {
            result.append(try parseCondition(piece, meta: meta))
        }
        return result
    }

    static func parseCondition(_ piece: Substring, meta: Bool) throws(SwitchboardError) -> URICondition {
        let kind = meta ? "meta-condition" : "condition"
        if piece.isEmpty {
            throw SwitchboardError(
                .badRequest, code: .invalidConditionSyntax,
                "Syntax error: empty \(kind) (two '&' in a row, or a trailing '&')")
        }
        // The key runs up to the first operator character, or an encoded '<' or '>'.
        let bytes = Array(piece.utf8)
        var index = 0
        var op: ConditionOperator?
        var valueStart = 0
        while index < bytes.count {
            let byte = bytes[index]
            func next(_ offset: Int) -> UInt8? { index + offset < bytes.count ? bytes[index + offset] : nil }
            if byte == UInt8(ascii: "=") {
                op = .equal
                valueStart = index + 1
            } else if byte == UInt8(ascii: "!") {
                guard next(1) == UInt8(ascii: "=") else { break }
                op = .notEqual
                valueStart = index + 2
            } else if byte == UInt8(ascii: "<") || byte == UInt8(ascii: ">") {
                let orEqual = next(1) == UInt8(ascii: "=")
                op = byte == UInt8(ascii: "<") ? (orEqual ? .lessThanOrEqual : .lessThan) : (orEqual ? .greaterThanOrEqual : .greaterThan)
                valueStart = index + (orEqual ? 2 : 1)
            } else if byte == UInt8(ascii: "%"), let high = next(1), high == UInt8(ascii: "3"), let low = next(2),
                [UInt8(ascii: "C"), UInt8(ascii: "c"), UInt8(ascii: "E"), UInt8(ascii: "e")].contains(low)
            {
                let less = low == UInt8(ascii: "C") || low == UInt8(ascii: "c")
                let orEqual = next(3) == UInt8(ascii: "=")
                op = less ? (orEqual ? .lessThanOrEqual : .lessThan) : (orEqual ? .greaterThanOrEqual : .greaterThan)
                valueStart = index + (orEqual ? 4 : 3)
            } else {
                index += 1
                continue
            }
            break
        }
        guard let op else {
            throw SwitchboardError(
                .badRequest, code: .invalidConditionSyntax,
                "Syntax error: invalid \(kind) '\(piece)'; expected <property><operator><value> with one of = != < > <= >=, and '&' between \(kind)s (percent-encode '&' and '/' inside values)"
            )
        }
        let rawKey = String(decoding: bytes[0..<index], as: UTF8.self)
        let rawValue = String(decoding: bytes[valueStart...], as: UTF8.self)
        let key = try decode(Substring(rawKey), what: "the \(kind) '\(piece)'")
        if key.isEmpty {
            throw SwitchboardError(
                .badRequest, code: .invalidConditionSyntax, "Syntax error: the \(kind) '\(piece)' has no property name")
        }
        if key.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 == UInt8(ascii: " ") }) {
            throw SwitchboardError(
                .badRequest, code: .invalidConditionSyntax,
                "Syntax error: the property name in \(kind) '\(piece)' contains white space or a control character")
        }
        let value = try decode(Substring(rawValue), what: "the \(kind) '\(piece)'")
        return URICondition(key: key, op: op, value: value)
    }

    /// Percent-decodes `text`; `+` stays `+`. Invalid escapes and non-UTF-8 results are errors.
    static func decode(_ text: Substring, what: @autoclosure () -> String) throws(SwitchboardError) -> String {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                throw SwitchboardError(
                    .badRequest, code: .invalidURISyntax,
                    "Syntax error: invalid percent-encoding in \(what()); '%' must be followed by two hex digits (write %25 for '%')"
                )
            }
            bytes.append(high << 4 | low)
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw SwitchboardError(
                .badRequest, code: .invalidURISyntax, "Syntax error: \(what()) does not decode to valid UTF-8")
        }
        // In valid UTF-8 a 0 byte is the NUL character and nothing else.
        if bytes.contains(0) {
            throw SwitchboardError(.badRequest, code: .invalidURISyntax, "Syntax error: \(what()) contains a NUL character")
        }
        return decoded
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Percent-encodes a name or value so that it survives ``init(parsing:maxLength:)`` unchanged.
    /// - Parameters:
    ///   - text: The name or value.
    ///   - isValue: Whether it is a value, after the operator: then `<`, `>`, `=` and `!` stay as they are.
    public static func encode(_ text: String, isValue: Bool = false) -> String {
        // Most names and values need no escape, and are returned as they are.
        guard text.utf8.contains(where: { !keeps($0, isValue: isValue) }) else { return text }
        return String(unsafeUninitializedCapacity: 3 * text.utf8.count) { buffer in
            var output = URITextWriter(buffer: buffer)
            output.appendEncoded(text, isValue: isValue)
            return output.count
        }
    }

    /// Whether a byte stays as it is in an encoded name (or value).
    fileprivate static func keeps(_ byte: UInt8, isValue: Bool) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"), UInt8(ascii: "'"), UInt8(ascii: ","), UInt8(ascii: ":"), UInt8(ascii: "@"),
            UInt8(ascii: "$"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "("), UInt8(ascii: ")"),
            UInt8(ascii: "\""):
            true
        case UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "="), UInt8(ascii: "!"): isValue
        default: false
        }
    }

    fileprivate static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "A") + value - 10
    }

    /// The URI in text form: `/<resource>/<conditions>/<metaconditions>`, with `_` for empty parts that are
    /// followed by others, and values percent-encoded where needed.
    public var description: String {
        // Written straight into the string's own storage, sized for the worst case (every byte of a name or
        // value escaped): a page's links make a URI for every answer.
        func room(_ list: [URICondition]) -> Int { list.reduce(0) { $0 + 3 * ($1.key.utf8.count + $1.value.utf8.count) + 3 } }
        let capacity = 4 + resourceName.utf8.count + room(conditions) + room(metaConditions)
        return String(unsafeUninitializedCapacity: capacity) { buffer in
            var text = URITextWriter(buffer: buffer)
            text.append(UInt8(ascii: "/"))
            text.append(resourceName)
            func join(_ conditions: [URICondition]) {
                for (number, condition) in conditions.enumerated() {
                    if number > 0 { text.append(UInt8(ascii: "&")) }
                    text.appendEncoded(condition.key, isValue: false)
                    text.append(condition.op.rawValue)
                    text.appendEncoded(condition.value, isValue: true)
                }
            }
            if !conditions.isEmpty || !metaConditions.isEmpty {
                text.append(UInt8(ascii: "/"))
                if conditions.isEmpty { text.append(UInt8(ascii: "_")) } else { join(conditions) }
            }
            if !metaConditions.isEmpty {
                text.append(UInt8(ascii: "/"))
                join(metaConditions)
            }
            return text.count
        }
    }
}

/// Writes a URI's text into a buffer made large enough for it beforehand.
private struct URITextWriter {
    let buffer: UnsafeMutableBufferPointer<UInt8>
    var count = 0

    mutating func append(_ byte: UInt8) {
        buffer[count] = byte
        count += 1
    }

    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        (buffer.baseAddress! + count).update(from: base, count: bytes.count)
        count += bytes.count
    }

    mutating func append(_ text: String) {
        var text = text
        text.withUTF8 { append($0) }
    }

    /// Appends `text` percent-encoded as ``ResourceURI/encode(_:isValue:)`` does: the bytes that stay as they
    /// are in runs, the others one by one.
    mutating func appendEncoded(_ text: String, isValue: Bool) {
        var text = text
        text.withUTF8 { bytes in
            var runStart = 0
            for (offset, byte) in bytes.enumerated() where !ResourceURI.keeps(byte, isValue: isValue) {
                append(UnsafeBufferPointer(rebasing: bytes[runStart..<offset]))
                append(UInt8(ascii: "%"))
                append(ResourceURI.hexDigit(byte >> 4))
                append(ResourceURI.hexDigit(byte & 0x0F))
                runStart = offset + 1
            }
            append(UnsafeBufferPointer(rebasing: bytes[runStart...]))
        }
    }
}
