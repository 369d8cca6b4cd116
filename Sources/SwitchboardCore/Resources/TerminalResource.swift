public import NIOCore
import HTTPTypes

/// An interactive resource that a WebSocket connection attaches to, such as the Shell, a chat room or a PTY.
///
/// Declare a terminal as an actor with ``Property`` values; register it with ``SwitchboardAPI/register(_:)``.
/// Switchboard creates one new instance per connection (and per switch to it), assigns the URI conditions to
/// its properties, calls ``open(_:)``, then feeds it input until the connection closes or switches to
/// another terminal, and finally calls ``close(_:on:)``.
///
/// What a terminal can do is declared by the protocols it conforms to, each with members that have no
/// default, so that a misspelled handler is a compile error rather than a handler that is never called:
/// - ``TextInputTerminal``: takes text messages (``TextInputTerminal/receive(text:from:)``).
/// - ``BinaryInputTerminal``: takes binary messages (``BinaryInputTerminal/receive(binary:from:)``).
/// - ``PropertyCheckingTerminal``: checks property changes and may refuse them
///   (``PropertyCheckingTerminal/propertiesDidChange(_:on:)``).
///
/// A terminal that conforms to neither input protocol only sends; input of a kind it does not take is
/// answered `415: Unsupported media type`, and `#OPTIONS` says which kinds it takes.
///
/// ```swift
/// actor Greeter: TextInputTerminal {
///     static let resourceDescription = "Greets whoever types a name"
///     @Property(description: "The greeting word") var greeting = "Hello"
///     @Property(readOnly: true) var greeted = 0
///
///     func open(_ connection: TerminalConnection) async throws {
///         try await connection.send("Type a name")
///     }
///     func receive(text: String, from connection: TerminalConnection) async throws {
///         greeted += 1
///         try await connection.send("\(greeting), \(text)!")
///     }
///     func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {}
/// }
/// ```
///
/// Global commands (`#TERMINAL`, `#INFO`, `#SHELL`, `#DISCONNECT`, `#OPTIONS`) never reach the terminal;
/// they are handled by Switchboard, even while a handler is still running.
///
/// - Important: An error thrown by a handler does not end the connection. The client gets it as a status
///   line (a ``SwitchboardError`` keeps its status; anything else is `500: Internal server error`), the server
///   logs it with the connection id, and the terminal keeps receiving input.
public protocol TerminalResource: Actor {
    /// The full resource name clients use, like `Switchboard.Shell`. By default the module-qualified type
    /// name. Clients may write any dot-suffix of it (`shell`), in any case.
    static var resourceName: String { get }
    /// What the terminal is for, shown in resource listings and `#OPTIONS`. Default empty: none.
    static var resourceDescription: String { get }
    /// Whether a terminal of this type that is attached again on the same connection gets back the property
    /// values it had when it was detached (default `false`; the Shell says `true`). See
    /// ``TerminalConnection/isReturning``.
    static var restoresPropertiesOnReturn: Bool { get }
    /// Whether what the client and the terminal exchange is private (default `false`; PTY terminals say
    /// `true`: keystrokes carry passwords). `Switchboard.Admin.Console` then shows that messages passed and
    /// their size, never their content.
    static var messagesArePrivate: Bool { get }

    /// Called once after the terminal is attached and its URI assignments are applied.
    func open(_ connection: TerminalConnection) async throws
    /// Called once when the terminal is detached: the connection switched to another terminal or closed.
    /// The connection no longer takes output from this terminal; its ``TerminalConnection/id`` and
    /// ``TerminalConnection/identity`` still say whose it was. It comes after ``open(_:)`` has returned or
    /// thrown, never while it runs, even when the client leaves during `open`.
    func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async
}

/// A terminal that takes text messages.
public protocol TextInputTerminal: TerminalResource {
    /// Called for each text message that is not a global command.
    func receive(text: String, from connection: TerminalConnection) async throws
}

/// A terminal that takes binary messages.
public protocol BinaryInputTerminal: TerminalResource {
    /// Called for each binary message.
    func receive(binary: ByteBuffer, from connection: TerminalConnection) async throws
}

/// A terminal that checks changes of its properties made by clients, and may refuse them.
public protocol PropertyCheckingTerminal: TerminalResource {
    /// Called, on the terminal's actor, after a client set properties (with `#TERMINAL {json}`, `VAR` or URI
    /// conditions). Throw to refuse the change: the client gets the error, and the properties the change
    /// set get their previous values back (a property the terminal itself changed in the meantime keeps
    /// the terminal's value).
    ///
    /// Until this method returns or suspends, nothing else runs on the terminal, so a handler never sees a
    /// value that is then refused, unless this method suspends before it throws.
    func propertiesDidChange(_ changes: PropertyChanges, on connection: TerminalConnection) async throws
}

extension TerminalResource {
    public static var resourceName: String { defaultResourceName(for: Self.self) }
    public static var resourceDescription: String { "" }
    public static var restoresPropertiesOnReturn: Bool { false }
    public static var messagesArePrivate: Bool { false }

    /// The kinds of input the terminal takes, from the protocols it conforms to.
    public static var supportedInput: TerminalInputKinds {
        var kinds: TerminalInputKinds = []
        if Self.self is any TextInputTerminal.Type { kinds.insert(.text) }
        if Self.self is any BinaryInputTerminal.Type { kinds.insert(.binary) }
        return kinds
    }
}

/// The module-qualified name of a type (`MyModule.Chat`), or its plain name for local types.
func defaultResourceName(for type: Any.Type) -> String {
    let reflected = String(reflecting: type)
    return reflected.contains("(") ? String(describing: type) : reflected
}
