public import Logging

/// A log handler that writes what swift-log's `StreamLogHandler` writes, line for line, but turns a logger's
/// metadata into text only when a message is logged.
///
/// `StreamLogHandler` renders its metadata into text every time a key is set. Hummingbird sets a request id
/// on the logger of every request (a WebSocket connection's upgrade included), so with `StreamLogHandler`
/// every request pays for text that is only read if something is logged: about 3 % of the server's CPU for
/// a small HTTP `GET`. This handler keeps the metadata as it is and passes it to a `StreamLogHandler` with
/// each message; the lines, and the order in which metadata from the logger, the metadata provider and the
/// message override one another, are the same. `switchboard serve` logs through it.
///
/// ```swift
/// LoggingSystem.bootstrap { label in
///     var handler = DeferredMetadataLogHandler.standardError(label: label)
///     handler.logLevel = .info
///     return handler
/// }
/// ```
public struct DeferredMetadataLogHandler: LogHandler {
    /// Writes the lines; it holds no metadata of its own, and no provider.
    private var stream: StreamLogHandler

    /// The logger's metadata, kept as it is until a message is logged.
    public var metadata: Logger.Metadata = [:]

    /// Metadata added to every message, below the message's own.
    public var metadataProvider: Logger.MetadataProvider?

    /// The least severe level that is written.
    public var logLevel: Logger.Level {
        get { stream.logLevel }
        set { stream.logLevel = newValue }
    }

    /// Writes to standard error, as `StreamLogHandler.standardError(label:)` does, with the metadata provider
    /// `LoggingSystem` was set up with.
    /// - Parameter label: The logger's label, written on every line.
    public static func standardError(label: String) -> DeferredMetadataLogHandler {
        DeferredMetadataLogHandler(
            stream: StreamLogHandler.standardError(label: label, metadataProvider: nil), metadataProvider: LoggingSystem.metadataProvider)
    }

    /// Writes to `stream`, as `StreamLogHandler(label:stream:metadataProvider:)` does.
    /// - Parameters:
    ///   - label: The logger's label, written on every line.
    ///   - stream: Where the lines go.
    ///   - metadataProvider: Metadata added to every message, below the message's own.
    public init(label: String, stream: any TextOutputStream & Sendable, metadataProvider: Logger.MetadataProvider?) {
        self.init(stream: StreamLogHandler(label: label, stream: stream, metadataProvider: nil), metadataProvider: metadataProvider)
    }

    private init(stream: StreamLogHandler, metadataProvider: Logger.MetadataProvider?) {
        self.stream = stream
        self.metadataProvider = metadataProvider
    }

    /// One key of the logger's metadata.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes a message with the logger's metadata, the provider's over it, and the message's over both.
    public func log(event: LogEvent) {
        var event = event
        var merged = metadata
        if let provided = metadataProvider?.get(), !provided.isEmpty {
            merged.merge(provided) { _, provided in provided }
        }
        if let explicit = event.metadata {
            merged.merge(explicit) { _, explicit in explicit }
        }
        event.metadata = merged.isEmpty ? nil : merged
        stream.log(event: event)
    }
}
