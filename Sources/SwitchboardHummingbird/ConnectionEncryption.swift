public import NIOCore

/// Encryption for the connections of a Switchboard server: `SwitchboardTLS`, from the `SwitchboardNIOSSL`
/// module, is TLS from PEM files.
///
/// It is a protocol so that `SwitchboardHummingbird` does not depend on a TLS library: an application that
/// does not serve TLS itself (most run behind a proxy that does) builds none.
public protocol ConnectionEncryption: Sendable {
    /// Makes the handler that encrypts one new connection. Switchboard puts it nearest the socket, so that
    /// every other handler sees plain HTTP and WebSocket frames.
    func makeHandler() -> any ChannelHandler
}

/// The name of the encrypting handler in a connection's pipeline: a connection dropped because its client
/// reads nothing is closed beneath it (see `WebSocketWatch`).
let encryptionHandlerName = "Switchboard.ConnectionEncryption"
