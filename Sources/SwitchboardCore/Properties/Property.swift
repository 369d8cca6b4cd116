public import Synchronization

/// Declares a terminal property: a typed value that clients can read with `#TERMINAL` and, unless it is
/// read-only, set through URI conditions (`/echo/prefix=>`), `#TERMINAL {json}` and the Shell's `VAR`.
///
/// ```swift
/// actor Countdown: TerminalResource {
///     @Property(description: "Seconds to count down from") var seconds = 10
///     @Property(readOnly: true, description: "Ticks sent so far") var ticks = 0
/// }
/// ```
///
/// The client-facing name is the Swift name with its first letter capitalised (`seconds` → `Seconds`)
/// unless you pass one. Names match case-insensitively.
///
/// - Note: The value lives in a lock-protected box, so Switchboard can read it for global commands while the
///   terminal's actor is busy in a long handler. Clients' writes run on the terminal's actor (see
///   ``PropertyCheckingTerminal``). Inside the terminal, read and write the property as usual; each access is
///   atomic. The projected value (`$seconds`) is the property itself, to ask ``PropertyChanges`` about it.
@propertyWrapper
public final class Property<Value: PropertyValue>: Sendable {
    @usableFromInline let storage: Mutex<Value>
    let declaredName: String?
    let summary: String?
    let isReadOnly: Bool

    /// Declares a property.
    /// - Parameters:
    ///   - wrappedValue: The initial value.
    ///   - name: The client-facing name; by default the Swift name with its first letter capitalised.
    ///   - readOnly: If `true`, clients can read but not set it (default `false`). Setting it is an error
    ///     that names the property.
    ///   - description: What the property means, shown by `#OPTIONS`.
    public init(wrappedValue: Value, _ name: String? = nil, readOnly: Bool = false, description: String? = nil) {
        self.storage = Mutex(wrappedValue)
        self.declaredName = name
        self.summary = description
        self.isReadOnly = readOnly
    }

    /// The current value.
    ///
    /// Inlinable, so that a terminal's module reads and writes it specialized for its type: a handler that
    /// reads a property on every message does not look up the lock's generic metadata each time.
    @inlinable public var wrappedValue: Value {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }

    /// The property itself (`$seconds`), to name it in ``PropertyChanges``.
    public var projectedValue: Property<Value> { self }
}

/// The type-erased face of a ``Property`` that the binder works with.
protocol PropertyBox: AnyObject, Sendable {
    var declaredName: String? { get }
    var summary: String? { get }
    var isReadOnly: Bool { get }
    var typeName: String { get }
    var expectation: String { get }
    var jsonValue: JSON { get }
    func converted(from literal: PropertyLiteral) -> (any Sendable)?
    func converted(from json: JSON) -> (any Sendable)?
    func store(_ value: any Sendable)
}

extension Property: PropertyBox {
    var typeName: String { Value.typeName }
    var expectation: String { Value.expectation }
    var jsonValue: JSON { wrappedValue.json }

    func converted(from literal: PropertyLiteral) -> (any Sendable)? {
        switch literal {
        case .null: return Value.nullValue
        case .text(let text, _): return Value(literal: text)
        }
    }

    func converted(from json: JSON) -> (any Sendable)? { Value(json: json) }

    func store(_ value: any Sendable) {
        guard let value = value as? Value else { return }
        wrappedValue = value
    }
}
