#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// A type that a terminal property can have: it converts from URI literals and JSON, and back to JSON.
///
/// Switchboard provides conformances for `Bool`, `Int`, `Double`, `String`, `Date` and `Optional` of any
/// of them. A `String`-backed enum gets one by declaring the conformance:
///
/// ```swift
/// enum Mode: String, CaseIterable, PropertyValue { case line, json }
/// ```
/// Enum values match case-insensitively.
public protocol PropertyValue: Sendable {
    /// Words for the values this type accepts, used in error messages: "an integer", "true or false".
    static var expectation: String { get }
    /// A short name of the type, shown by `#OPTIONS` ("Int", "Bool", "line | json").
    static var typeName: String { get }
    /// The value `null` converts to, if this type accepts it (only `Optional` does).
    static var nullValue: Self? { get }
    /// Converts an unquoted URI or `VAR` literal; returns `nil` if the text is not a valid value.
    init?(literal: String)
    /// Converts a JSON value; returns `nil` if it is not a valid value.
    init?(json: JSON)
    /// The value as JSON.
    var json: JSON { get }
}

extension PropertyValue {
    public static var nullValue: Self? { nil }
}

extension Bool: PropertyValue {
    public static var expectation: String { "true or false" }
    public static var typeName: String { "Bool" }
    public init?(literal: String) {
        switch literal.lowercased() {
        case "true": self = true
        case "false": self = false
        default: return nil
        }
    }
    public init?(json: JSON) {
        guard case .bool(let value) = json else { return nil }
        self = value
    }
    public var json: JSON { .bool(self) }
}

extension Int: PropertyValue {
    public static var expectation: String { "an integer" }
    public static var typeName: String { "Int" }
    public init?(literal: String) {
        guard let value = Int(literal) else { return nil }
        self = value
    }
    public init?(json: JSON) {
        switch json {
        case .int(let value): self = value
        case .double(let value) where value == value.rounded() && abs(value) < 9.0e18: self = Int(value)
        default: return nil
        }
    }
    public var json: JSON { .int(self) }
}

extension Double: PropertyValue {
    public static var expectation: String { "a number" }
    public static var typeName: String { "Double" }
    public init?(literal: String) {
        guard let value = Double(literal), value.isFinite else { return nil }
        self = value
    }
    public init?(json: JSON) {
        switch json {
        case .int(let value): self = Double(value)
        case .double(let value): self = value
        default: return nil
        }
    }
    public var json: JSON { .double(self) }
}

extension String: PropertyValue {
    public static var expectation: String { "a string" }
    public static var typeName: String { "String" }
    public init?(literal: String) { self = literal }
    public init?(json: JSON) {
        guard case .string(let value) = json else { return nil }
        self = value
    }
    public var json: JSON { .string(self) }
}

extension Date: PropertyValue {
    public static var expectation: String {
        "an ISO 8601 date such as 2024-05-01, 2024-05-01T12:30 or 2024-05-01T12:30:00Z"
    }
    public static var typeName: String { "Date" }
    public init?(literal: String) {
        guard let date = ISO8601.parse(literal) else { return nil }
        self = date
    }
    public init?(json: JSON) {
        guard case .string(let text) = json, let date = ISO8601.parse(text) else { return nil }
        self = date
    }
    public var json: JSON { .string(ISO8601.format(self)) }
}

extension Optional: PropertyValue where Wrapped: PropertyValue {
    public static var expectation: String { "\(Wrapped.expectation), or null" }
    public static var typeName: String { "\(Wrapped.typeName)?" }
    public static var nullValue: Self? { .some(.none) }
    public init?(literal: String) {
        guard let value = Wrapped(literal: literal) else { return nil }
        self = .some(value)
    }
    public init?(json: JSON) {
        if case .null = json {
            self = .none
            return
        }
        guard let value = Wrapped(json: json) else { return nil }
        self = .some(value)
    }
    public var json: JSON { self?.json ?? .null }
}

extension PropertyValue where Self: CaseIterable & RawRepresentable, RawValue == String {
    public static var expectation: String { "one of " + allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ") }
    public static var typeName: String { allCases.map(\.rawValue).joined(separator: " | ") }
    public init?(literal: String) {
        guard let match = Self.allCases.first(where: { $0.rawValue.lowercased() == literal.lowercased() }) else { return nil }
        self = match
    }
    public init?(json: JSON) {
        guard case .string(let text) = json else { return nil }
        self.init(literal: text)
    }
    public var json: JSON { .string(rawValue) }
}

/// A literal as written in a URI condition or a `VAR` command, before conversion to a property's type.
public enum PropertyLiteral: Sendable, Equatable {
    /// The word `null`, in any case, unquoted.
    case null
    /// Text; `quoted` is true when it was written in single or double quotes (which are removed).
    case text(String, quoted: Bool)

    /// Reads a literal: `null` becomes ``null``, and one pair of matching quotes is removed.
    public init(_ raw: String) {
        // Most literals (a number, a name) are neither quoted nor four bytes long: no character is read.
        let utf8 = raw.utf8
        if utf8.count != 4, let first = utf8.first, first != UInt8(ascii: "'"), first != UInt8(ascii: "\"") {
            self = .text(raw, quoted: false)
        } else if raw.lowercased() == "null" {
            self = .null
        } else if raw.count >= 2, let first = raw.first, first == raw.last, first == "'" || first == "\"" {
            self = .text(String(raw.dropFirst().dropLast()), quoted: true)
        } else {
            self = .text(raw, quoted: false)
        }
    }

    /// The literal as the user wrote it, for error messages.
    public var written: String {
        switch self {
        case .null: "null"
        case .text(let text, let quoted): quoted ? "'\(text)'" : text
        }
    }
}

/// Conversion between `Date` and the ISO 8601 forms Switchboard accepts, all in UTC unless a zone is given.
enum ISO8601 {
    /// Parses `yyyy-MM-dd`, `yyyy-MM-ddTHH:mm`, `…:ss`, `…:ss.fffffff`, each with an optional `Z` or `±hh:mm`.
    static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        var index = 0
        func number(_ count: Int) -> Int? {
            guard index + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<(index + count)] {
                guard (48...57).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            index += count
            return value
        }
        func expect(_ character: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == character else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect(45), let month = number(2), expect(45), let day = number(2) else { return nil }
        guard (1...12).contains(month), (1...daysInMonth(year, month)).contains(day) else { return nil }
        var seconds = Double(daysFromCivil(year, month, day)) * 86_400
        if index == bytes.count { return Date(timeIntervalSince1970: seconds) }
        guard expect(84) || expect(116) || expect(32) else { return nil }
        guard let hour = number(2), expect(58), let minute = number(2), hour < 24, minute < 60 else { return nil }
        seconds += Double(hour * 3600 + minute * 60)
        if expect(58) {
            guard let second = number(2), second < 60 else { return nil }
            seconds += Double(second)
            if expect(46) {
                var scale = 0.1
                var fraction = 0.0
                var digits = 0
                while index < bytes.count, (48...57).contains(bytes[index]) {
                    fraction += Double(bytes[index] - 48) * scale
                    scale /= 10
                    index += 1
                    digits += 1
                }
                guard digits > 0 else { return nil }
                seconds += fraction
            }
        }
        if index == bytes.count || expect(90) || expect(122) {
            return index == bytes.count ? Date(timeIntervalSince1970: seconds) : nil
        }
        let sign: Double
        if expect(43) { sign = 1 } else if expect(45) { sign = -1 } else { return nil }
        guard let offsetHours = number(2) else { return nil }
        _ = expect(58)
        guard let offsetMinutes = number(2), index == bytes.count, offsetHours < 24, offsetMinutes < 60 else { return nil }
        seconds -= sign * Double(offsetHours * 3600 + offsetMinutes * 60)
        return Date(timeIntervalSince1970: seconds)
    }

    /// Formats as `yyyy-MM-ddTHH:mm:ssZ`, with milliseconds when the date has a fraction of a second.
    static func format(_ date: Date) -> String {
        let total = date.timeIntervalSince1970
        var seconds = Int(total.rounded(.down))
        let millis = Int(((total - Double(seconds)) * 1000).rounded())
        if millis == 1000 { seconds += 1 }
        let days = Int((Double(seconds) / 86_400).rounded(.down))
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = civilFromDays(days)
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        var text = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T"
        text += "\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay % 3600 / 60, 2)):\(pad(secondOfDay % 60, 2))"
        if millis > 0 && millis < 1000 { text += ".\(pad(millis, 3))" }
        return text + "Z"
    }

    static func daysInMonth(_ year: Int, _ month: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civilFromDays(_ days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
