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
    /// Where the lines go, and the metadata provider: one object shared by the handler's copies, so that the
    /// handler fits in a logger's inline storage. (Hummingbird copies the logger for every connection to set
    /// its request id; a larger handler is boxed on the heap for each copy, 144 bytes an idle connection kept.)
    private final class Output: Sendable {
        /// Writes the lines; it holds no metadata of its own, and no provider.
        let stream: StreamLogHandler
        let metadataProvider: Logger.MetadataProvider?

        init(stream: StreamLogHandler, metadataProvider: Logger.MetadataProvider?) {
            self.stream = stream
            self.metadataProvider = metadataProvider
        }
    }

    private var output: Output

    /// The logger's metadata, kept as it is until a message is logged.
    private var entries = Entries.none

    /// The logger's metadata: none, one entry (as Hummingbird sets on each connection's logger: a box of 80
    /// bytes where a dictionary of one took 200), or more.
    private enum Entries {
        case none
        indirect case one(key: String, value: Logger.Metadata.Value)
        case many(Logger.Metadata)
    }

    /// The logger's metadata, kept as it is until a message is logged.
    public var metadata: Logger.Metadata {
        get {
            switch entries {
            case .none: [:]
            case .one(let key, let value): [key: value]
            case .many(let metadata): metadata
            }
        }
        set {
            entries = newValue.isEmpty ? .none : .many(newValue)
        }
    }

    /// The least severe level that is written.
    public var logLevel: Logger.Level

    /// Metadata added to every message, below the message's own.
    public var metadataProvider: Logger.MetadataProvider? {
        get { output.metadataProvider }
        set { output = Output(stream: output.stream, metadataProvider: newValue) }
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
        output = Output(stream: stream, metadataProvider: metadataProvider)
        logLevel = stream.logLevel
    }

    /// One key of the logger's metadata.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get {
            switch entries {
            case .none: nil
            case .one(let only, let value): only == key ? value : nil
            case .many(let metadata): metadata[key]
            }
        }
        set {
            switch entries {
            case .none:
                if let newValue { entries = .one(key: key, value: newValue) }
            case .one(let only, _) where only == key:
                entries = newValue.map { .one(key: key, value: $0) } ?? .none
            case .one(let only, let value):
                if let newValue { entries = .many([only: value, key: newValue]) }
            case .many(var metadata):
                entries = .none  // the dictionary stays unique while it changes
                metadata[key] = newValue
                entries = metadata.isEmpty ? .none : .many(metadata)
            }
        }
    }

    /// Writes a message with the logger's metadata, the provider's over it, and the message's over both.
    public func log(event: LogEvent) {
        var event = event
        var merged = metadata
        if let provided = output.metadataProvider?.get(), !provided.isEmpty {
            merged.merge(provided) { _, provided in provided }
        }
        if let explicit = event.metadata {
            merged.merge(explicit) { _, explicit in explicit }
        }
        event.metadata = merged.isEmpty ? nil : merged
        output.stream.log(event: event)
    }
}
