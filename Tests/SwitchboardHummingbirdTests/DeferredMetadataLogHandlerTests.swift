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

    /// A logger keeps a handler of up to three words inline; a larger one is boxed on the heap for every copy
    /// of the logger, and Hummingbird copies it for each connection.
    @Test func fitsInALoggersInlineStorage() {
        #expect(MemoryLayout<DeferredMetadataLogHandler>.size <= 3 * MemoryLayout<Int>.size)
    }

    /// The level and the provider are each copy's own, as with `StreamLogHandler`.
    @Test func aCopysLevelAndProviderAreItsOwn() {
        let lines = Lines()
        let original = Logger(label: "sb.test") { label in DeferredMetadataLogHandler(label: label, stream: lines, metadataProvider: nil) }
        var copy = original
        copy.logLevel = .debug
        copy.handler.metadataProvider = Logger.MetadataProvider { ["provided": "yes"] }
        original.debug("hidden")
        original.info("plain")
        copy.debug("shown")
        #expect(lines.withoutTimestamps.count == 2)
        #expect(!lines.withoutTimestamps[0].contains("provided"))
        #expect(lines.withoutTimestamps[1].contains("provided=yes"))
    }

    /// The metadata is kept as none, one entry or a dictionary: each step leaves what a dictionary would hold.
    @Test func keepsTheMetadataADictionaryWould() {
        var handler = DeferredMetadataLogHandler(label: "sb.test", stream: Lines(), metadataProvider: nil)
        var expected: Logger.Metadata = [:]
        let steps: [(key: String, value: Logger.Metadata.Value?)] = [
            ("hb.request.id", "1"), ("hb.request.id", "2"), ("hb.request.id", nil), ("absent", nil), ("a", "1"), ("b", "2"),
            ("a", nil), ("b", nil), ("c", "3"), ("c", nil),
        ]
        for (key, value) in steps {
            handler[metadataKey: key] = value
            expected[key] = value
            #expect(handler.metadata == expected, "after \(key) = \(String(describing: value))")
            #expect(handler[metadataKey: key] == value)
        }
        handler.metadata = ["x": "1", "y": "2"]
        handler[metadataKey: "x"] = nil
        #expect(handler.metadata == ["y": "2"])
        handler.metadata = [:]
        #expect(handler.metadata.isEmpty && handler[metadataKey: "y"] == nil)
    }
}
