#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Encodes `Encodable` values straight into ``JSON``: the value Foundation's `JSONEncoder` (sorted keys,
/// ISO 8601 dates) would write and ``JSONParser`` would read back, without the text in between.
///
/// Numbers come out as that round trip makes them: a `Double` that is a whole number no larger than 2⁵³ (a
/// `Float`: 2²⁴) is an integer, other numbers are doubles, and a `Float` is the double its shortest text
/// reads as (`0.1`, not `0.10000000149011612`). Non-finite numbers throw, as they do there. `Data` is Base64
/// text, a `URL` its absolute string, a `Decimal` the number its text reads as.
struct JSONValueEncoder {
    /// The value as JSON.
    func encode<T: Encodable>(_ value: T) throws -> JSON {
        try Self.box(value, codingPath: []).json
    }

    /// A value being encoded: what its encoder was asked to make, filled in by the containers.
    fileprivate final class Node {
        var value: JSON?
        var members: [String: Node]?
        var elements: [Node]?

        init(_ value: JSON? = nil) { self.value = value }

        /// The finished value; objects with their keys sorted, as `JSONEncoder`'s `.sortedKeys` writes them.
        var json: JSON {
            if let members {
                return .object(JSONObject(members.sorted { $0.key < $1.key }.map { ($0.key, $0.value.json) }))
            }
            if let elements { return .array(elements.map(\.json)) }
            // A value that encoded nothing is an empty object.
            return value ?? .object(JSONObject())
        }
    }

    fileprivate static func box<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws -> Node {
        switch value {
        case let date as Date: return Node(.string(ISO8601.format(date)))
        case let data as Data: return Node(.string(data.base64EncodedString()))
        case let url as URL: return Node(.string(url.absoluteString))
        case let decimal as Decimal: return Node(try JSON(parsing: decimal.description))
        default:
            let node = Node()
            try value.encode(to: NodeEncoder(node: node, codingPath: codingPath))
            return node
        }
    }

    fileprivate static func number(_ value: Double, codingPath: [any CodingKey]) throws -> JSON {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "\(value) is not a valid JSON number"))
        }
        if value.rounded(.towardZero) == value && value.magnitude <= 9_007_199_254_740_992 { return .int(Int(value)) }
        return .double(value)
    }

    fileprivate static func number(_ value: Float, codingPath: [any CodingKey]) throws -> JSON {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "\(value) is not a valid JSON number"))
        }
        if value.rounded(.towardZero) == value && value.magnitude <= 16_777_216 { return .int(Int(value)) }
        return .double(Double(value.description) ?? Double(value))
    }

    fileprivate static func number<T: BinaryInteger>(_ value: T) -> JSON {
        Int(exactly: value).map(JSON.int) ?? .double(Double(value))
    }
}

private struct NodeEncoder: Encoder {
    let node: JSONValueEncoder.Node
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if node.members == nil { node.members = [:] }
        return KeyedEncodingContainer(KeyedNodeContainer<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if node.elements == nil { node.elements = [] }
        return UnkeyedNodeContainer(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleValueNodeContainer(node: node, codingPath: codingPath)
    }
}

private struct KeyedNodeContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: JSONValueEncoder.Node
    let codingPath: [any CodingKey]

    private func set(_ value: JSON, for key: Key) { node.members?[key.stringValue] = JSONValueEncoder.Node(value) }

    mutating func encodeNil(forKey key: Key) throws { set(.null, for: key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { set(.bool(value), for: key) }
    mutating func encode(_ value: String, forKey key: Key) throws { set(.string(value), for: key) }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        set(try JSONValueEncoder.number(value, codingPath: codingPath + [key]), for: key)
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        set(try JSONValueEncoder.number(value, codingPath: codingPath + [key]), for: key)
    }
    mutating func encode(_ value: Int, forKey key: Key) throws { set(.int(value), for: key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { set(JSONValueEncoder.number(value), for: key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { set(JSONValueEncoder.number(value), for: key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { set(JSONValueEncoder.number(value), for: key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { set(JSONValueEncoder.number(value), for: key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { set(JSONValueEncoder.number(value), for: key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { set(JSONValueEncoder.number(value), for: key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { set(JSONValueEncoder.number(value), for: key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { set(JSONValueEncoder.number(value), for: key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { set(JSONValueEncoder.number(value), for: key) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        // Boxed first: setting a member while its value is still being encoded would overlap two accesses.
        let boxed = try JSONValueEncoder.box(value, codingPath: codingPath + [key])
        node.members?[key.stringValue] = boxed
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let child = JSONValueEncoder.Node()
        child.members = [:]
        node.members?[key.stringValue] = child
        return KeyedEncodingContainer(KeyedNodeContainer<NestedKey>(node: child, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let child = JSONValueEncoder.Node()
        child.elements = []
        node.members?[key.stringValue] = child
        return UnkeyedNodeContainer(node: child, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder { superEncoder(named: "super", key: nil) }

    mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder(named: key.stringValue, key: key) }

    private func superEncoder(named name: String, key: Key?) -> any Encoder {
        let child = JSONValueEncoder.Node()
        node.members?[name] = child
        return NodeEncoder(node: child, codingPath: codingPath + (key.map { [$0] } ?? []))
    }
}

private struct UnkeyedNodeContainer: UnkeyedEncodingContainer {
    let node: JSONValueEncoder.Node
    let codingPath: [any CodingKey]
    var count: Int { node.elements?.count ?? 0 }

    private func append(_ value: JSON) { node.elements?.append(JSONValueEncoder.Node(value)) }
    /// The coding path of the next element.
    private var nextPath: [any CodingKey] { codingPath + [ElementKey(intValue: count)] }

    mutating func encodeNil() throws { append(.null) }
    mutating func encode(_ value: Bool) throws { append(.bool(value)) }
    mutating func encode(_ value: String) throws { append(.string(value)) }
    mutating func encode(_ value: Double) throws { append(try JSONValueEncoder.number(value, codingPath: nextPath)) }
    mutating func encode(_ value: Float) throws { append(try JSONValueEncoder.number(value, codingPath: nextPath)) }
    mutating func encode(_ value: Int) throws { append(.int(value)) }
    mutating func encode(_ value: Int8) throws { append(JSONValueEncoder.number(value)) }
    mutating func encode(_ value: Int16) throws { append(JSONValueEncoder.number(value)) }
    mutating func encode(_ value: Int32) throws { append(JSONValueEncoder.number(value)) }
    mutating func encode(_ value: Int64) throws { append(JSONValueEncoder.number(value)) }
    mutating func encode(_ value: UInt) throws { append(JSONValueEncoder.number(value)) }
    mutating func encode(_ value: UInt8) throws { append(JSONValueEncoder.number(value)) }
    mutating func encode(_ value: UInt16) throws { append(JSONValueEncoder.number(value)) }
    mutating func encode(_ value: UInt32) throws { append(JSONValueEncoder.number(value)) }
    mutating func encode(_ value: UInt64) throws { append(JSONValueEncoder.number(value)) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        let boxed = try JSONValueEncoder.box(value, codingPath: nextPath)
        node.elements?.append(boxed)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let path = nextPath
        let child = JSONValueEncoder.Node()
        child.members = [:]
        node.elements?.append(child)
        return KeyedEncodingContainer(KeyedNodeContainer<NestedKey>(node: child, codingPath: path))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let path = nextPath
        let child = JSONValueEncoder.Node()
        child.elements = []
        node.elements?.append(child)
        return UnkeyedNodeContainer(node: child, codingPath: path)
    }

    mutating func superEncoder() -> any Encoder {
        let path = nextPath
        let child = JSONValueEncoder.Node()
        node.elements?.append(child)
        return NodeEncoder(node: child, codingPath: path)
    }

    private struct ElementKey: CodingKey {
        let intValue: Int?
        var stringValue: String { intValue.map(String.init) ?? "" }
        init(intValue: Int) { self.intValue = intValue }
        init?(stringValue: String) { return nil }
    }
}

private struct SingleValueNodeContainer: SingleValueEncodingContainer {
    let node: JSONValueEncoder.Node
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws { node.value = .null }
    mutating func encode(_ value: Bool) throws { node.value = .bool(value) }
    mutating func encode(_ value: String) throws { node.value = .string(value) }
    mutating func encode(_ value: Double) throws { node.value = try JSONValueEncoder.number(value, codingPath: codingPath) }
    mutating func encode(_ value: Float) throws { node.value = try JSONValueEncoder.number(value, codingPath: codingPath) }
    mutating func encode(_ value: Int) throws { node.value = .int(value) }
    mutating func encode(_ value: Int8) throws { node.value = JSONValueEncoder.number(value) }
    mutating func encode(_ value: Int16) throws { node.value = JSONValueEncoder.number(value) }
    mutating func encode(_ value: Int32) throws { node.value = JSONValueEncoder.number(value) }
    mutating func encode(_ value: Int64) throws { node.value = JSONValueEncoder.number(value) }
    mutating func encode(_ value: UInt) throws { node.value = JSONValueEncoder.number(value) }
    mutating func encode(_ value: UInt8) throws { node.value = JSONValueEncoder.number(value) }
    mutating func encode(_ value: UInt16) throws { node.value = JSONValueEncoder.number(value) }
    mutating func encode(_ value: UInt32) throws { node.value = JSONValueEncoder.number(value) }
    mutating func encode(_ value: UInt64) throws { node.value = JSONValueEncoder.number(value) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        let boxed = try JSONValueEncoder.box(value, codingPath: codingPath)
        node.value = boxed.json
    }
}
