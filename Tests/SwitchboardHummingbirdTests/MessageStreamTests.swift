import Foundation
import NIOCore
import Switchboard
import SwitchboardTesting
import Testing

@testable import SwitchboardTestSupport

/// Sends a large message in parts: `text N` or `binary N` sends N parts of 64 KiB between two lines; `fail`
/// sends a message whose source fails after two parts.
actor PartsSender: TextInputTerminal {
    static var resourceName: String { "Tests.PartsSender" }
    static let partSize = 64 << 10
    init() {}
    static func part(_ index: Int) -> String { String(repeating: Character(UnicodeScalar(UInt8(97 + index % 26))), count: partSize) }

    struct Failure: Error {}

    func receive(text: String, from connection: TerminalConnection) async throws {
        let words = text.split(separator: " ")
        let count = words.count > 1 ? Int(words[1]) ?? 1 : 2
        try await connection.send("before")
        switch words.first {
        case "binary":
            try await connection.send(binaryParts: (0..<count).async.map { ByteBuffer(string: Self.part($0)) })
        case "fail":
            try await connection.send(
                textParts: (0..<count).async.map { index -> String in
                    if index == 2 { throw Failure() }
                    return Self.part(index)
                })
        default:
            try await connection.send(textParts: (0..<count).async.map { Self.part($0) })
        }
        try await connection.send("after")
    }

    func open(_ connection: TerminalConnection) async throws {}
    func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {}
}

/// Answers `N SIZE` with a status line and N lines of SIZE letters, sent together.
actor TogetherSender: TextInputTerminal {
    static var resourceName: String { "Tests.TogetherSender" }
    init() {}
    static func line(_ index: Int, size: Int) -> String { String(repeating: Character(UnicodeScalar(UInt8(97 + index % 26))), count: size) }

    func receive(text: String, from connection: TerminalConnection) async throws {
        let numbers = text.split(separator: " ").compactMap { Int($0) }
        guard numbers.count == 2 else { return try await connection.send("400: Bad request. Send N SIZE") }
        let lines = (0..<numbers[0]).map { Self.line($0, size: numbers[1]) }
        try await connection.sendingTogether {
            try await connection.send("200: OK. \(lines.count) lines")
            for line in lines { try await connection.send(line) }
        }
        try await connection.send("after")
    }

    func open(_ connection: TerminalConnection) async throws {}
    func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {}
}

/// A sequence of the numbers of a range, asynchronously (the standard library has no `.async`).
struct AsyncRange: AsyncSequence {
    typealias Element = Int
    let range: Range<Int>
    struct AsyncIterator: AsyncIteratorProtocol {
        var next: Int
        let end: Int
        mutating func next() async -> Int? {
            guard next < end else { return nil }
            defer { next += 1 }
            await Task.yield()
            return next
        }
    }
    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(next: range.lowerBound, end: range.upperBound) }
}

extension Range<Int> {
    var async: AsyncRange { AsyncRange(range: self) }
}

@Suite(.timeLimit(.minutes(2)))
struct MessageStreamTests {
    /// With permessage-deflate, each part is a compressed fragment of one message, all of them one DEFLATE stream.
    @Test(arguments: [false, true])
    func aMessageInPartsArrivesWholeAndInOrder(compression: Bool) async throws {
        try await TestServer.with(configure: { $0.register { PartsSender() } }) { server in
            let client = try await WebSocketTestClient.connect(server.base + "/api/tests.partssender", compression: compression)
            client.send("text 16")
            #expect(try await client.receiveText() == "before")
            let text = try await client.receiveText()
            #expect(text.utf8.count == 16 * PartsSender.partSize)
            #expect(text == (0..<16).map(PartsSender.part).joined())
            #expect(try await client.receiveText() == "after")

            client.send("binary 4")
            #expect(try await client.receiveText() == "before")
            guard case .binary(let bytes)? = await client.receive() else { throw TestFailure("expected a binary message") }
            #expect(bytes.readableBytes == 4 * PartsSender.partSize)
            #expect(try await client.receiveText() == "after")

            // The source fails after two parts: the message ends with them, the handler's error follows.
            client.send("fail 5")
            #expect(try await client.receiveText() == "before")
            #expect(try await client.receiveText() == (0..<2).map(PartsSender.part).joined())
            #expect(try await client.receiveText().hasPrefix("500: Internal server error"))
            client.send("text 1")
            #expect(try await client.receiveText() == "before")
            #expect(try await client.receiveText() == PartsSender.part(0))
            #expect(try await client.receiveText() == "after")
            try await client.close()
        }
    }

    /// Messages sent together arrive whole and in order, with and without permessage-deflate, also when they
    /// are far more than the connection's buffer holds (held back past it, the writer would wait forever).
    @Test(arguments: [false, true]) func messagesSentTogetherArriveInOrderAlsoPastTheBuffer(compression: Bool) async throws {
        try await TestServer.with(configure: { $0.register { TogetherSender() } }) { server in
            let client = try await WebSocketTestClient.connect(server.base + "/api/tests.togethersender", compression: compression)
            for (count, size) in [(3, 20), (1, 1), (200, 16 << 10)] {
                client.send("\(count) \(size)")
                #expect(try await client.receiveText() == "200: OK. \(count) lines")
                for index in 0..<count {
                    let line = try await client.receiveText()
                    #expect(line == TogetherSender.line(index, size: size), "line \(index) of \(count)")
                }
                #expect(try await client.receiveText() == "after")
            }
            try await client.close()
        }
    }

    @Test func aTransportWithoutFragmentsGetsTheMessageWhole() async throws {
        let api = SwitchboardAPI()
        api.register { PartsSender() }
        let client = TestConnection.open(api, uri: "/partssender")
        await client.send("text 3")
        #expect(try await client.receiveText() == "before")
        #expect(try await client.receiveText() == (0..<3).map(PartsSender.part).joined())
        #expect(try await client.receiveText() == "after")
        await client.close()
    }
}
