import Foundation
import Testing

@testable import SwitchboardCore

/// The encoder that turns entities straight into JSON gives what `JSONEncoder` (sorted keys, ISO 8601
/// dates) wrote and the parser read back, which is how entities were encoded before it.
@Suite(.timeLimit(.minutes(1)))
struct JSONValueEncoderTests {
    /// The way entities were encoded before: text from `JSONEncoder`, parsed.
    func throughText<T: Encodable>(_ value: T) throws -> JSON {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(ISO8601.format(date))
        }
        return try JSON(parsing: String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// The value written out with every number's kind.
    func typed(_ json: JSON) -> String {
        switch json {
        case .int(let value): "i\(value)"
        case .double(let value): "d\(value)"
        case .array(let elements): "[" + elements.map(typed).joined(separator: ",") + "]"
        case .object(let object): "{" + object.members.map { "\($0.key):" + typed($0.value) }.joined(separator: ",") + "}"
        default: json.compact
        }
    }

    struct Numbers: Codable {
        var int8: Int8 = -8, int16: Int16 = 16, int32: Int32 = -32, int64: Int64 = .min, uint: UInt = 7
        var uint8: UInt8 = 255, uint16: UInt16 = 16, uint32: UInt32 = 32, uint64: UInt64 = .max
        var doubles: [Double] = [3, 0.1, 1e20, 1e-7, -0.0, 2.5e15, 9_007_199_254_740_992, 9_007_199_254_740_994, -5, .leastNonzeroMagnitude]
        var floats: [Float] = [0.1, 3, 1e10, 16_777_216, 0.3, -2.5]
        var single: Double = 42
        var singleFloat: Float = 0.1
    }

    enum Kind: String, Codable { case small, large }
    enum Shape: Codable { case circle(radius: Double), square(Int), none }

    struct Nested: Codable { var name: String; var when: Date? }

    final class Base: Encodable {
        var id = 1
    }

    final class Derived: Encodable {
        var extra = "x"
        let base = Base()
        enum CodingKeys: String, CodingKey { case extra, list, pair }
        init() {}
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(extra, forKey: .extra)
            try base.encode(to: container.superEncoder())
            var list = container.nestedUnkeyedContainer(forKey: .list)
            try list.encode(1)
            try list.encodeNil()
            var inner = list.nestedContainer(keyedBy: CodingKeys.self)
            try inner.encode(2.5, forKey: .pair)
            var pair = container.nestedContainer(keyedBy: CodingKeys.self, forKey: .pair)
            try pair.encode(Float(0.1), forKey: .extra)
        }
    }

    struct Everything: Codable {
        var text = "quote \" backslash \\ tab \t é 😀 \u{1}"
        var flag = true
        var numbers = Numbers()
        var date = Date(timeIntervalSince1970: 1_700_000_000.25)
        var data = Data([1, 2, 3, 250])
        var url = URL(string: "https://example.com/a%20b?q=1")!
        var decimals = [Decimal(string: "1.50")!, Decimal(3), Decimal(string: "-0.001")!]
        var missing: String? = nil
        var present: Int? = 5
        var dictionary = ["b": 1, "A": 2, "a10": 3, "a9": 4, "é": 5, "_z": 6]
        var intKeyed = [2: "two", 10: "ten"]
        var nested = [Nested(name: "n", when: nil), Nested(name: "m", when: Date(timeIntervalSince1970: 0))]
        var kind = Kind.large
        var shapes: [Shape] = [.circle(radius: 1.5), .square(2), .none]
        var json: JSON = .object(JSONObject([("z", .int(1)), ("a", .array([.null, .bool(false), .string("s")]))]))
        var arrays = [[1, 2], [], [3]]
        var empty: [String: Int] = [:]
    }

    @Test func encodesWhatTheTextRoundTripGave() throws {
        let everything = Everything()
        // Compared as text, each value with its type: `1` and `1.0` differ.
        #expect(try typed(JSONValueEncoder().encode(everything)) == typed(throughText(everything)))
        #expect(try typed(JSONValueEncoder().encode(Derived())) == typed(throughText(Derived())))
        for value in [0.1, 1e300, -1e-300, 123_456.789, 4_503_599_627_370_496.5] {
            #expect(try typed(JSONValueEncoder().encode([value])) == typed(throughText([value])), "\(value)")
        }
    }

    @Test func refusesNumbersJSONCannotWrite() {
        for value in [Double.nan, .infinity, -.infinity] {
            #expect(throws: EncodingError.self) { try JSONValueEncoder().encode(["x": value]) }
            #expect(throws: EncodingError.self) { try throughText(["x": value]) }
        }
        #expect(throws: EncodingError.self) { try JSONValueEncoder().encode([Float.nan]) }
    }
}
