import Logging
import Synchronization
import SwitchboardHummingbird
import Testing

/// `DeferredMetadataLogHandler` writes the lines `StreamLogHandler` writes: the same metadata, overridden in
/// the same order (the logger's, the provider's over it, the message's over both).
@Suite
struct DeferredMetadataLogHandlerTests {
    final class Lines: TextOutputStream, Sendable {
        private let text = Mutex("")
        func write(_ string: String) { text.withLock { $0 += string } }
        /// The lines without their timestamps (two handlers may write in different seconds).
        var withoutTimestamps: [String] {
            text.withLock { $0 }.split(separator: "\n").map { String($0.drop { $0 != " " }) }
        }
    }

    @Test(arguments: [false, true])
    func writesWhatStreamLogHandlerWrites(withProvider: Bool) {
        let provider = withProvider ? Logger.MetadataProvider { ["shared": "provider", "provided": "yes"] } : nil
        let (deferred, stream) = (Lines(), Lines())
        var loggers = [
            Logger(label: "sb.test") { label in DeferredMetadataLogHandler(label: label, stream: deferred, metadataProvider: provider) },
            Logger(label: "sb.test") { label in StreamLogHandler(label: label, stream: stream, metadataProvider: provider) },
        ]
        for index in loggers.indices {
            loggers[index].info("before any metadata")
            loggers[index][metadataKey: "sb.connection.id"] = "7"
            loggers[index][metadataKey: "shared"] = "logger"
            loggers[index][metadataKey: "gone"] = "soon"
            loggers[index][metadataKey: "gone"] = nil
            loggers[index].warning("with metadata", metadata: ["shared": "message", "error": "it \"broke\""])
            loggers[index].debug("below the level")
            loggers[index].error("the logger's alone")
        }
        #expect(deferred.withoutTimestamps.count == 3)
        #expect(deferred.withoutTimestamps == stream.withoutTimestamps)
        #expect(deferred.withoutTimestamps[1].contains("shared=message"))
    }
}
