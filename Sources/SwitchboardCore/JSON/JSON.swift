package import NIOCore

/// A JSON value whose objects keep their members in order.
///
/// Switchboard writes terminal properties, connection profiles and options in declaration order, so it
/// uses its own small JSON model instead of dictionaries. Parse text with ``JSON/init(parsing:maxDepth:)``
/// and print it with ``JSON/prettyPrinted`` or ``JSON/compact``.
public enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSON])
    case object(JSONObject)

    /// Numbers compare by value, so `.int(2)` equals `.double(2)`; everything else compares structurally.
    public static func == (lhs: JSON, rhs: JSON) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.int(let a), .int(let b)): a == b
        case (.double(let a), .double(let b)): a == b
        case (.int(let a), .double(let b)), (.double(let b), .int(let a)): Double(a) == b
        case (.string(let a), .string(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)): a == b
        default: false
        }
    }

    /// A short word for the kind of value, used in error messages ("an object", "a string").
    public var kindDescription: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int, .double: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// The value printed over several lines with two-space indentation.
    public var prettyPrinted: String { String(decoding: utf8(pretty: true), as: UTF8.self) }

    /// The value printed on one line with no insignificant white space.
    public var compact: String { String(decoding: utf8(pretty: false), as: UTF8.self) }

    /// The value printed as UTF-8 bytes, pretty (``prettyPrinted``) or compact (``compact``).
    package func utf8(pretty: Bool) -> [UInt8] {
        var writer = JSONWriter(pretty: pretty, capacity: 4096)
        writer.write(self, indent: 0)
        return writer.finish()
    }

    /// The value printed pretty (``prettyPrinted``) with a final newline, in a buffer of its size: the body of
    /// an answer, printed for a transport.
    package func prettyPrintedLine() -> ByteBuffer {
        var writer = JSONWriter(pretty: true, capacity: 4096)
        writer.write(self, indent: 0)
        writer.append(UInt8(ascii: "\n"))
        return writer.finishBuffer()
    }

    /// `["<tag>","<text>"]` on one line (terminado's output message), from text that is already valid UTF-8:
    /// escaped as it is, without making a `String` of it first, straight into the buffer that is sent, in one
    /// pass over the buffer's room (`ByteBuffer`'s own small writes, each checking uniqueness and capacity, made
    /// 256-byte messages a third slower).
    /// The buffer starts with room for an eighth more than the text, as terminal output grows by its escaped
    /// line ends (`\r\n` takes four bytes), so that it does not grow (and copy) on the way.
    package static func compactTaggedText(tag: String, utf8 text: UnsafeRawBufferPointer) -> ByteBuffer {
        var tag = tag
        return tag.withUTF8 { tag in
            let capacity = 6 * tag.count + text.count + text.count / 8 + JSONEscaping.room + 8
            var buffer = ByteBufferAllocator().buffer(capacity: capacity)
            var read = 0
            var begun = false
            repeat {
                let wanted = begun ? text.count - read + JSONEscaping.room + 2 : capacity
                buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: wanted) { space in
                    var at = 0
                    if !begun {
                        // `["`, the tag (room for its every byte escaped), `","`.
                        space.storeBytes(of: (UInt16(UInt8(ascii: "\"")) << 8 | UInt16(UInt8(ascii: "["))).littleEndian, as: UInt16.self)
                        at = 2 + JSONEscaping.escape(UnsafeRawBufferPointer(tag), into: UnsafeMutableRawBufferPointer(rebasing: space[2...])).written
                        for byte in #"",""#.utf8 {
                            space[at] = byte
                            at += 1
                        }
                        begun = true
                    }
                    // The text into all but the last two bytes, kept for the `"]` that ends it.
                    let (taken, written) = JSONEscaping.escape(
                        UnsafeRawBufferPointer(rebasing: text[read...]), into: UnsafeMutableRawBufferPointer(rebasing: space[at..<space.count - 2]))
                    read += taken
                    at += written
                    if read == text.count {
                        space.storeBytes(of: (UInt16(UInt8(ascii: "]")) << 8 | UInt16(UInt8(ascii: "\""))).littleEndian, toByteOffset: at, as: UInt16.self)
                        at += 2
                    }
                    return at
                }
            } while read < text.count
            return buffer
        }
    }
}

/// An ordered JSON object whose member names are unique.
///
/// Lookups are linear for small objects and go through an index of positions once an object has more
/// than 16 members, so that building or parsing an object of n members takes O(n), not
/// O(n²) (a 4 MiB body of 100,000 members parses in well under a second).
public struct JSONObject: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    /// The members in order.
    public private(set) var members: [(key: String, value: JSON)]
    /// The index of positions and the printed form, when the object has either (one reference, so that a
    /// `JSON` value stays 17 bytes).
    private var side: Side?

    /// What an object keeps besides its members. Shared by copies of the object; a change of the members
    /// makes the changed copy's own first (``willChange()``), so it is never written while shared.
    private final class Side: @unchecked Sendable {
        /// Member name → position in ``JSONObject/members``, kept once the object is larger than
        /// ``JSONObject/indexThreshold``.
        @exclusivity(unchecked) var positions: [String: Int]?
        /// The object printed pretty, kept by ``JSONObject/keepingPrintedForm()`` until the members change.
        let printed: PrintedJSON?

        init(positions: [String: Int]?, printed: PrintedJSON?) {
            self.positions = positions
            self.printed = printed
        }
    }

    /// How many members an object may have before lookups use an index.
    static let indexThreshold = 16

    /// Creates an empty object.
    public init() { members = [] }

    /// Creates an object from ordered members; a later member replaces an earlier one of the same name.
    public init(_ members: [(String, JSON)]) {
        self.members = []
        self.members.reserveCapacity(members.count)
        for (key, value) in members { self[key] = value }
    }

    public init(dictionaryLiteral elements: (String, JSON)...) { self.init(elements) }

    /// An object of members whose names Switchboard wrote itself and knows to differ: taken as they are,
    /// without looking each name up among the ones before it (an answer's few members, made for every GET).
    package init(distinctMembers members: [(key: String, value: JSON)]) {
        assert(Set(members.map(\.key)).count == members.count, "duplicate member names")
        if members.count > Self.indexThreshold {
            self.init(members.map { ($0.key, $0.value) })  // with the index of positions
        } else {
            self.init(members: members)
        }
    }

    private init(members: [(key: String, value: JSON)]) {
        self.members = members
    }

    public var isEmpty: Bool { members.isEmpty }
    public var count: Int { members.count }

    /// The object printed pretty, when it keeps that form (``keepingPrintedForm()``).
    var printed: PrintedJSON? { side?.printed }

    /// The object, keeping its pretty-printed form for as long as its members do not change: printing it
    /// again is then a copy. For objects that are printed many times and rarely changed (the in-memory store's
    /// entities); it costs about the printed size in memory.
    package func keepingPrintedForm() -> JSONObject {
        var copy = self
        copy.side = Side(positions: side?.positions, printed: PrintedJSON(self))
        return copy
    }

    private func position(of key: String) -> Int? {
        if let positions = side?.positions { return positions[key] }
        return members.firstIndex { $0.key == key }
    }

    /// Before the members change: the printed form no longer holds, and the index becomes this copy's own.
    private mutating func willChange() {
        guard side != nil else { return }
        if isKnownUniquelyReferenced(&side), side?.printed == nil { return }
        side = side?.positions.map { Side(positions: $0, printed: nil) }
    }

    /// The member with exactly this name; setting `nil` removes it.
    public subscript(key: String) -> JSON? {
        get { position(of: key).map { members[$0].value } }
        set {
            willChange()
            if let index = position(of: key) {
                if let newValue {
                    members[index].value = newValue
                } else {
                    members.remove(at: index)
                    if side != nil { reindex() }
                }
            } else if let newValue {
                members.append((key, newValue))
                if let side {
                    side.positions?[key] = members.count - 1
                } else if members.count > Self.indexThreshold {
                    reindex()
                }
            }
        }
    }

    private mutating func reindex() {
        guard members.count > Self.indexThreshold else {
            side = nil
            return
        }
        var index: [String: Int] = [:]
        index.reserveCapacity(members.count)
        for (position, member) in members.enumerated() { index[member.key] = position }
        side = Side(positions: index, printed: nil)
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.members.count == rhs.members.count
            && zip(lhs.members, rhs.members).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

extension JSON: Hashable {
    /// Consistent with `==`: numbers hash by their `Double` value, so `.int(2)` and `.double(2)` hash alike.
    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let value): hasher.combine(value)
        case .int(let value): hasher.combine(Double(value))
        case .double(let value): hasher.combine(value)
        case .string(let value): hasher.combine(value)
        case .array(let elements): hasher.combine(elements)
        case .object(let object): hasher.combine(object)
        }
    }
}

extension JSONObject: Hashable {
    public func hash(into hasher: inout Hasher) {
        hasher.combine(members.count)
        for member in members {
            hasher.combine(member.key)
            hasher.combine(member.value)
        }
    }
}

extension JSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral, ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSON)...) { self = .object(JSONObject(elements)) }
    public init(nilLiteral: ()) { self = .null }
}

extension JSON: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSON].self) {
            self = .array(value)
        } else {
            self = .object(JSONObject(try container.decode([String: JSON].self).sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var container = encoder.singleValueContainer()
            try container.encodeNil()
        case .bool(let value):
            var container = encoder.singleValueContainer()
            try container.encode(value)
        case .int(let value):
            var container = encoder.singleValueContainer()
            try container.encode(value)
        case .double(let value):
            var container = encoder.singleValueContainer()
            try container.encode(value)
        case .string(let value):
            var container = encoder.singleValueContainer()
            try container.encode(value)
        case .array(let elements):
            var container = encoder.unkeyedContainer()
            for element in elements { try container.encode(element) }
        case .object(let object):
            var container = encoder.container(keyedBy: JSONKey.self)
            for (key, value) in object.members { try container.encode(value, forKey: JSONKey(stringValue: key)) }
        }
    }

    private struct JSONKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
