public import NIOCore
import HTTPTypes

/// An interactive resource that a WebSocket connection attaches to, such as the Shell, a chat room or a PTY.
///
/// Declare a terminal as an actor with ``Property`` values and the handlers you need; register it with
/// ``SwitchboardAPI/register(_:)``. Switchboard creates one new instance per connection (and per switch to
/// it), assigns the URI conditions to its properties, calls ``open(_:)``, then feeds it input until the
/// connection closes or switches to another terminal, and finally calls ``close(_:)``.
///
/// ```swift
/// actor Greeter: TerminalResource {
///     static let resourceDescription: String? = "Greets whoever types a name"
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
    /// What the terminal is for, shown in resource listings and `#OPTIONS`. Default `nil`.
    static var resourceDescription: String? { get }
    /// The kinds of input the terminal accepts (default text only). Input of another kind gets
    /// `415: Unsupported media type` and is not passed on.
    static var supportedInput: TerminalInputKinds { get }
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
    /// Called for each text message that is not a global command.
    func receive(text: String, from connection: TerminalConnection) async throws
    /// Called for each binary message, if ``supportedInput`` contains `.binary`.
    func receive(binary: ByteBuffer, from connection: TerminalConnection) async throws
    /// Called after a client set properties (with `#TERMINAL {json}`, `VAR` or URI conditions), with their
    /// names. Throw to reject the change: the properties get their previous values back and the client gets
    /// the error.
    func propertiesDidChange(_ names: [String], on connection: TerminalConnection) async throws
    /// Called once when the terminal is detached: the connection switched to another terminal or closed.
    func close(_ reason: TerminalCloseReason) async
}

extension TerminalResource {
    public static var resourceName: String { defaultResourceName(for: Self.self) }
    public static var resourceDescription: String? { nil }
    public static var supportedInput: TerminalInputKinds { .text }
    public static var restoresPropertiesOnReturn: Bool { false }
    public static var messagesArePrivate: Bool { false }
    public func open(_ connection: TerminalConnection) async throws {}
    public func receive(text: String, from connection: TerminalConnection) async throws {
        throw SwitchboardError(
            .unsupportedMediaType, code: .unsupportedInput, "Terminal '\(Self.resourceName)' does not support text input")
    }
    public func receive(binary: ByteBuffer, from connection: TerminalConnection) async throws {
        throw SwitchboardError(
            .unsupportedMediaType, code: .unsupportedInput, "Terminal '\(Self.resourceName)' does not support binary input")
    }
    public func propertiesDidChange(_ names: [String], on connection: TerminalConnection) async throws {}
    public func close(_ reason: TerminalCloseReason) async {}
}

/// The module-qualified name of a type (`MyModule.Chat`), or its plain name for local types.
func defaultResourceName(for type: Any.Type) -> String {
    let reflected = String(reflecting: type)
    return reflected.contains("(") ? String(describing: type) : reflected
}
