#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
public import PostgresNIO
import NIOSSL

/// A `postgres://user:password@host:port/database` URL (`?sslmode=require` for TLS; without it the connection is
/// not encrypted, which suits a database on the same machine or network only), as the configurations of a
/// client (a pool, for stores) and of a single connection (the cluster's listener).
public struct PostgresDatabaseURL: Sendable {
    public let host: String
    public let port: Int
    public let username: String
    let password: String?
    public let database: String?
    /// Whether the connection is encrypted (`sslmode=require`).
    public let requiresTLS: Bool

    /// Parses a URL; throws ``PostgresStoreError/invalidURL(_:)`` for anything else.
    public init(_ url: String) throws {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
            let host = components.host, !host.isEmpty, let user = components.user
        else {
            throw PostgresStoreError.invalidURL("Use postgres://user:password@host:port/database (got a URL that is not one)")
        }
        let mode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        guard ["disable", "require"].contains(mode) else { throw PostgresStoreError.invalidURL("sslmode is disable or require, not '\(mode)'") }
        self.host = host
        self.port = components.port ?? 5432
        self.username = user
        self.password = components.password
        self.database = components.path.split(separator: "/").first.map(String.init)
        self.requiresTLS = mode == "require"
    }

    /// Where the database is, without the password: `PostgreSQL at host:port/database`.
    public var place: String { "PostgreSQL at \(host):\(port)/\(database ?? "")" }

    /// The configuration of a client (a pool of connections).
    public var clientConfiguration: PostgresClient.Configuration {
        PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database,
            tls: requiresTLS ? .require(.makeClientConfiguration()) : .disable)
    }

    /// The configuration of one connection of its own.
    public func connectionConfiguration() throws -> PostgresConnection.Configuration {
        PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database,
            tls: requiresTLS ? .require(try NIOSSLContext(configuration: .makeClientConfiguration())) : .disable)
    }
}
