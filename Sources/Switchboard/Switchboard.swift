// The Switchboard module: the core (terminal resources, entity resources, the router and the REST layer)
// and the Shell, under one import. Transport bindings (`SwitchboardHummingbird`), stores
// (`SwitchboardSQLite`) and PTY terminals (`SwitchboardPTY`) are modules of their own.
@_exported public import SwitchboardCore
@_exported public import SwitchboardShell
@_exported public import HTTPTypes
// What terminals use without a dependency of their own: `ByteBuffer` for binary messages, `Logger` for
// `connection.logger`.
@_exported public import Logging
@_exported public import NIOCore

extension SwitchboardAPI {
    /// Creates an API whose home terminal is the Shell.
    /// - Parameters:
    ///   - configuration: Limits and timings (see ``SwitchboardAPI/Configuration``).
    ///   - authenticator: Who callers are and what they may do. The default, `AllowAllAuthenticator`, gives
    ///     every caller every right: use it only in-process or on a machine of your own; a server others can
    ///     reach needs `APIKeyAuthenticator` or one of your own.
    ///   - logger: The logger for connection events; each connection adds `sb.connection.id` to its metadata.
    public convenience init(
        configuration: Configuration = .init(), authenticator: any Authenticator = AllowAllAuthenticator(),
        logger: Logger = Logger(label: "switchboard")
    ) {
        self.init(configuration: configuration, authenticator: authenticator, logger: logger, home: .shell)
    }
}
