import CSV
import Foundation
public import SwitchboardCore

/// CSV answers (`text/csv`, RFC 4180: comma-separated, CRLF line ends), written by CSV.swift
/// (`yaslab/CSV.swift`), for spreadsheets and `csvkit`-style tools.
///
/// The first line names the columns: every property of every entity, in the order first met, with nested
/// objects flattened into dotted names (`Address.City`). Arrays are written as compact JSON, `null` and
/// missing properties as empty fields.
///
/// A text value that begins with `=`, `+`, `-`, `@`, a tab or a carriage return gets a `'` in front, so that a
/// spreadsheet shows it instead of running it as a formula (CSV injection; numbers are written as they are).
/// Register it with `api.register(format: CSVFormat())`; `switchboard serve` does.
public struct CSVFormat: ResponseFormat {
    public init() {}
    public var mediaTypes: [String] { ["text/csv", "csv"] }
    public var contentType: String { "text/csv; charset=utf-8; header=present" }

    public func write(_ entities: [JSON]) throws -> [UInt8] {
        let rows = entities.map { entity in
            var fields: [(String, String)] = []
            Self.flatten(entity, prefix: nil, into: &fields)
            return fields
        }
        var columns: [String] = []
        var known: Set<String> = []
        for row in rows {
            for (name, _) in row where known.insert(name).inserted { columns.append(name) }
        }
        let stream = OutputStream.toMemory()
        let writer = try CSVWriter(stream: stream, newline: .crlf)
        try writer.write(row: columns)
        for row in rows {
            let values = Dictionary(row, uniquingKeysWith: { first, _ in first })
            try writer.write(row: columns.map { values[$0] ?? "" })
        }
        stream.close()
        guard let data = stream.property(forKey: .dataWrittenToMemoryStreamKey) as? Data else { return [] }
        return Array(data) + [13, 10]
    }

    /// The entity's fields as (column, text) pairs, nested objects flattened.
    static func flatten(_ value: JSON, prefix: String?, into fields: inout [(String, String)]) {
        switch value {
        case .object(let object):
            guard !object.members.isEmpty || prefix == nil else {
                fields.append((prefix!, "{}"))
                return
            }
            for (name, member) in object.members {
                flatten(member, prefix: prefix.map { "\($0).\(name)" } ?? name, into: &fields)
            }
        case .null: fields.append((prefix ?? "Value", ""))
        case .string(let text): fields.append((prefix ?? "Value", defused(text)))
        default: fields.append((prefix ?? "Value", value.compact))
        }
    }

    /// Text that a spreadsheet would take for a formula, with a `'` in front.
    static func defused(_ text: String) -> String {
        guard let first = text.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) else { return text }
        return "'" + text
    }
}
