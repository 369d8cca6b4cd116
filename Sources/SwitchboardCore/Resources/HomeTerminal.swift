/// The terminal a connection opens when its URI names none, and goes back to with `#SHELL`, `#HOME` and
/// ``TerminalConnection/redirectToShell()``: the Shell (`HomeTerminal.shell`, in the `Switchboard` module),
/// unless an API is made with one of its own.
///
/// Every caller may open it, as every caller may read the list of resources: what it then does runs with
/// the caller's rights.
public struct HomeTerminal: Sendable {
    /// The terminal type.
    public let descriptor: TerminalDescriptor
    /// The property that takes the canonical URI of an entity query when a WebSocket URI names an entity
    /// resource (the Shell's `Query`: the Shell opens there); `nil` when such URIs are refused.
    public let locationProperty: String?

    /// Declares a home terminal.
    /// - Parameters:
    ///   - locationProperty: The property that takes an entity query's URI, or `nil` (see ``locationProperty``).
    ///   - make: Creates a new instance, as for ``SwitchboardAPI/register(_:)``.
    /// - Precondition: The terminal declares `locationProperty`.
    public init<T: TerminalResource>(locationProperty: String?, make: @escaping @Sendable () -> T) {
        descriptor = TerminalDescriptor(T.self, make: make)
        self.locationProperty = locationProperty
        if let locationProperty {
            precondition(
                descriptor.schema.descriptor(named: locationProperty) != nil,
                "\(T.resourceName) has no property '\(locationProperty)' to take an entity query's URI")
        }
    }
}
