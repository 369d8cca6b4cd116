import Synchronization

/// Lets a terminal take properties it does not declare (RESTable's dictionary terminals): a URI condition,
/// `#TERMINAL {json}` or `VAR` with any other name sets an entry here, with the value as JSON (a URI literal
/// becomes a number, `true`/`false`, `null` or text). `#TERMINAL` shows the entries after the declared
/// properties; setting one to `null` removes it.
///
/// ```swift
/// actor Form: TextInputTerminal {
///     @Property var title = "Untitled"
///     @DynamicProperties var fields: JSONObject
/// }
/// // ws://…/api/form/title=Order&customer=Ada&quantity=3  →  fields == ["customer": "Ada", "quantity": 3]
/// ```
///
/// Declared properties keep their names and types; an entry's name is as the client wrote it. A terminal holds
/// at most ``limit`` entries.
@propertyWrapper
public final class DynamicProperties: Sendable {
    private let storage: Mutex<JSONObject>

    /// The most entries one terminal holds; a change that would add more is refused with a `400`.
    public static let limit = 256

    public init(wrappedValue: JSONObject = JSONObject()) { storage = Mutex(wrappedValue) }

    /// The entries, in the order they were first set.
    public var wrappedValue: JSONObject {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }

    /// The key an entry has, matching `name` case-insensitively, or `name` for a new one.
    func key(for name: String) -> String {
        storage.withLock { entries in entries.members.first { $0.key.lowercased() == name.lowercased() }?.key ?? name }
    }

    func value(named name: String) -> JSON? { storage.withLock { $0.member(named: name) } }

    /// Sets an entry; `null` removes it.
    func set(_ name: String, to value: JSON) {
        storage.withLock { entries in
            let key = entries.members.first { $0.key.lowercased() == name.lowercased() }?.key ?? name
            if value == .null {
                entries = JSONObject(entries.members.filter { $0.key != key })
            } else {
                entries[key] = value
            }
        }
    }

    /// The box for one entry, as the property binder handles declared properties.
    func entry(named name: String) -> DynamicEntryBox { DynamicEntryBox(container: self, name: key(for: name)) }
}

/// One entry of ``DynamicProperties`` as a property box: its value is any JSON.
final class DynamicEntryBox: PropertyBox {
    let container: DynamicProperties
    let name: String

    init(container: DynamicProperties, name: String) {
        self.container = container
        self.name = name
    }

    var declaredName: String? { name }
    var summary: String? { nil }
    var isReadOnly: Bool { false }
    var typeName: String { "JSON" }
    var expectation: String { "any JSON value" }
    var jsonValue: JSON { container.value(named: name) ?? .null }
    func converted(from literal: PropertyLiteral) -> (any Sendable)? { DynamicEntryBox.json(literal) }
    func converted(from json: JSON) -> (any Sendable)? { json }
    func store(_ value: any Sendable) {
        guard let json = value as? JSON else { return }
        container.set(name, to: json)
    }

    /// A URI literal as JSON, read as a condition on a JSON value reads it: `null`, a number, `true`/`false`,
    /// or text (quoted text stays text).
    static func json(_ literal: PropertyLiteral) -> JSON {
        guard case .text(let text, _) = literal else { return .null }
        return EntityValue(literal: literal, as: .json)?.json ?? .string(text)
    }
}
