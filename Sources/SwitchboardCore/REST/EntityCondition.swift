#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// A value a condition compares against, already typed by the property it targets.
public enum EntityValue: Sendable, Hashable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case date(Date)

    /// Reads a JSON value as the given field type (ISO 8601 text for dates); `nil` when it is not of that type.
    public init?(json: JSON, as type: EntityFieldType) {
        switch (json, type) {
        case (.null, _): self = .null
        case (.bool(let value), .bool): self = .bool(value)
        case (.int(let value), .int): self = .int(value)
        case (.int(let value), .double): self = .double(Double(value))
        case (.double(let value), .double): self = .double(value)
        case (.double(let value), .int) where value == value.rounded(): self = .int(Int(value))
        case (.string(let value), .string): self = .string(value)
        case (.string(let text), .date):
            guard let date = ISO8601.parse(text) else { return nil }
            self = .date(date)
        case (_, .json):
            switch json {
            case .bool(let value): self = .bool(value)
            case .int(let value): self = .int(value)
            case .double(let value): self = .double(value)
            case .string(let value): self = .string(value)
            default: return nil
            }
        default: return nil
        }
    }

    /// Converts a URI literal for a property of this type; `nil` when it is not a valid value.
    init?(literal: PropertyLiteral, as type: EntityFieldType) {
        let text: String
        switch literal {
        case .null:
            self = .null
            return
        case .text(let written, _): text = written
        }
        switch type {
        case .bool: guard let value = Bool(literal: text) else { return nil }; self = .bool(value)
        case .int: guard let value = Int(literal: text) else { return nil }; self = .int(value)
        case .double: guard let value = Double(literal: text) else { return nil }; self = .double(value)
        case .string: self = .string(text)
        case .date: guard let value = ISO8601.parse(text) else { return nil }; self = .date(value)
        case .json:
            if case .text(_, quoted: true) = literal {
                self = .string(text)
            } else if let value = Int(text) {
                self = .int(value)
            } else if let value = Double(text), value.isFinite {
                self = .double(value)
            } else if let value = Bool(literal: text) {
                self = .bool(value)
            } else {
                self = .string(text)
            }
        case .object, .array: return nil
        }
    }

    /// The value as JSON (dates as ISO 8601 text).
    public var json: JSON {
        switch self {
        case .null: .null
        case .bool(let value): .bool(value)
        case .int(let value): .int(value)
        case .double(let value): .double(value)
        case .string(let value): .string(value)
        case .date(let value): .string(ISO8601.format(value))
        }
    }

    /// The literal that reads back as this value in a URI: strings are quoted only where they would read
    /// as something else.
    var literal: String {
        switch self {
        case .null: "null"
        case .bool(let value): value ? "true" : "false"
        case .int(let value): String(value)
        case .double(let value): JSON.double(value).compact
        case .date(let value): ISO8601.format(value)
        case .string(let text):
            if case .text(let read, false) = PropertyLiteral(text), read == text,
                Int(text) == nil, Double(text) == nil, Bool(literal: text) == nil
            {
                text
            } else {
                "'\(text)'"
            }
        }
    }

    public var description: String { literal }

    /// Orders two values: `null` first, numbers by value, strings by their Unicode scalars (case-sensitive),
    /// dates chronologically, `false` before `true`. Values of different kinds are not comparable (`nil`).
    static func compare(_ lhs: EntityValue, _ rhs: EntityValue) -> ComparisonResult? {
        func order<T: Comparable>(_ a: T, _ b: T) -> ComparisonResult {
            a < b ? .orderedAscending : (a == b ? .orderedSame : .orderedDescending)
        }
        switch (lhs, rhs) {
        case (.null, .null): return .orderedSame
        case (.null, _): return .orderedAscending
        case (_, .null): return .orderedDescending
        case (.bool(let a), .bool(let b)): return order(a ? 1 : 0, b ? 1 : 0)
        case (.int(let a), .int(let b)): return order(a, b)
        case (.double(let a), .double(let b)): return order(a, b)
        case (.int(let a), .double(let b)): return order(Double(a), b)
        case (.double(let a), .int(let b)): return order(a, Double(b))
        case (.string(let a), .string(let b)):
            if a.unicodeScalars.elementsEqual(b.unicodeScalars) { return .orderedSame }
            return a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) ? .orderedAscending : .orderedDescending
        case (.date(let a), .date(let b)): return order(a, b)
        default: return nil
        }
    }
}

/// One condition of a query, resolved against the resource's schema: `Year>1950`.
public struct EntityCondition: Sendable, Equatable {
    /// The property path in declared casing (`["Address", "City"]`).
    public let path: [String]
    /// The path's fields, outermost first.
    public let fields: [EntityField]
    /// The operator.
    public let op: ConditionOperator
    /// The value, typed by the property.
    public let value: EntityValue

    /// The dotted path in declared casing (`Address.City`).
    public var dottedPath: String { path.joined(separator: ".") }

    /// Whether a value satisfies the condition. `null` equals only `null`; an order comparison with `null`
    /// or with a value of another kind is false (and `!=` true).
    public func matches(_ candidate: EntityValue) -> Bool {
        guard let result = EntityValue.compare(candidate, value) else { return op == .notEqual }
        if op != .equal && op != .notEqual && (candidate == .null || value == .null) { return false }
        switch op {
        case .equal: return result == .orderedSame
        case .notEqual: return result != .orderedSame
        case .lessThan: return result == .orderedAscending
        case .greaterThan: return result == .orderedDescending
        case .lessThanOrEqual: return result != .orderedDescending
        case .greaterThanOrEqual: return result != .orderedAscending
        }
    }

    /// Whether an entity, in its client JSON form, meets the condition; a missing or mistyped value is null.
    public func matches(entity row: JSONObject) -> Bool {
        let found = path.count == 1 ? row.member(named: path[0]) : row.value(at: path)
        return matches(EntityValue(json: found ?? .null, as: fields.last!.type) ?? .null)
    }

    /// The condition as the canonical URI writes it.
    var uriCondition: URICondition { URICondition(key: dottedPath, op: op, value: value.literal) }
}

/// The ordering of a query: a property path and a direction.
public struct EntityOrder: Sendable, Equatable {
    /// The property path in declared casing.
    public let path: [String]
    /// The path's fields, outermost first.
    public let fields: [EntityField]
    /// Whether the order is descending (`order_desc`).
    public let descending: Bool

    public var dottedPath: String { path.joined(separator: ".") }

    /// Sorts items by the value at ``path`` in their JSON form, stably, `null` first when ascending.
    public func sorted<T>(_ items: [T], by json: (T) -> JSONObject) -> [T] {
        let type = fields.last!.type
        let keyed = items.enumerated().map { ($0.offset, $0.element, EntityValue(json: json($0.element).value(at: path) ?? .null, as: type) ?? .null) }
        return keyed.sorted { lhs, rhs in
            let result = EntityValue.compare(lhs.2, rhs.2) ?? .orderedSame
            if result == .orderedSame { return lhs.0 < rhs.0 }
            return descending ? result == .orderedDescending : result == .orderedAscending
        }.map(\.1)
    }
}

extension JSONObject {
    /// The value at a path of client names, matched case-insensitively; `nil` when a step is missing.
    public func value(at path: [String]) -> JSON? {
        guard let first = path.first else { return .object(self) }
        var value = member(named: first)
        for name in path.dropFirst() {
            guard case .object(let nested)? = value else { return nil }
            value = nested.member(named: name)
        }
        return value
    }

    /// The member with this name, matched exactly first, then case-insensitively.
    public func member(named name: String) -> JSON? {
        if let exact = self[name] { return exact }
        let lowered = name.lowercased()
        return members.first { $0.key.lowercased() == lowered }?.value
    }
}
