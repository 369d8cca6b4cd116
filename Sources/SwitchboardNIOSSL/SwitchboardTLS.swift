public import NIOCore
import NIOSSL
public import SwitchboardHummingbird
import Synchronization

/// TLS for a Switchboard server (`wss://` and `https://`) from a certificate chain and a private key in
/// PEM files, with the files read again on ``reload()`` (`switchboard serve` does so on SIGHUP): new
/// connections get the new certificate, open ones keep theirs.
///
/// ```swift
/// var configuration = SwitchboardServerConfiguration()
/// configuration.tls = try SwitchboardTLS(certificateFile: "cert.pem", keyFile: "key.pem")
/// ```
public final class SwitchboardTLS: ConnectionEncryption {
    /// The PEM file of the certificate chain (the server's certificate first).
    public let certificateFile: String
    /// The PEM file of the private key.
    public let keyFile: String
    private let current: CurrentCertificate
    /// The context every handshake starts from; the certificate itself comes from ``current``.
    let context: NIOSSLContext

    /// Reads the certificate chain and the key.
    /// - Throws: When a file cannot be read or parsed, or the key does not match the certificate.
    public init(certificateFile: String, keyFile: String) throws {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        let loaded = try Self.load(certificateFile: certificateFile, keyFile: keyFile)
        let current = CurrentCertificate(loaded)
        self.current = current
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: loaded.chain.map { .certificate($0) }, privateKey: .privateKey(loaded.key))
        configuration.minimumTLSVersion = .tlsv12
        // Every handshake takes the certificate loaded last, so a reload needs no new context.
        configuration.sslContextCallback = { _, promise in
            let (chain, key) = current.pair.withLock { $0 }
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = chain.map { .certificate($0) }
            override.privateKey = .privateKey(key)
            promise.succeed(override)
        }
        context = try NIOSSLContext(configuration: configuration)
    }

    /// A TLS handler for one new connection.
    public func makeHandler() -> any ChannelHandler { NIOSSLServerHandler(context: context) }

    /// Reads the files again; handshakes from now on use what they hold. On an error the certificate in
    /// use stays.
    public func reload() throws {
        let loaded = try Self.load(certificateFile: certificateFile, keyFile: keyFile)
        current.pair.withLock { $0 = loaded }
    }

    private static func load(certificateFile: String, keyFile: String) throws -> (chain: [NIOSSLCertificate], key: NIOSSLPrivateKey) {
        let chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        guard !chain.isEmpty else { throw SwitchboardTLSError("'\(certificateFile)' holds no certificate") }
        let key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        // A context built from the pair checks that the key belongs to the certificate.
        _ = try NIOSSLContext(
            configuration: .makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key)))
        return (chain, key)
    }
}

/// The certificate chain and key that handshakes use, replaced by a reload.
private final class CurrentCertificate: Sendable {
    let pair: Mutex<(chain: [NIOSSLCertificate], key: NIOSSLPrivateKey)>
    init(_ pair: (chain: [NIOSSLCertificate], key: NIOSSLPrivateKey)) { self.pair = Mutex(pair) }
}

/// Why TLS could not be set up.
public struct SwitchboardTLSError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
