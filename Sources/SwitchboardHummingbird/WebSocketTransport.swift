import HummingbirdWebSocket
import NIOCore
import NIOWebSocket
import Switchboard

/// Carries a Switchboard connection over a Hummingbird WebSocket.
struct WebSocketTransport: TerminalTransport {
    let outbound: WebSocketOutboundWriter

    func send(_ message: TerminalMessage) async throws {
        switch message {
        case .text(let text): try await outbound.writeTextMessage(text)
        case .binary(let bytes): try await outbound.writeBinaryMessage(bytes)
        }
    }

    func close(code: CloseCode, reason: String) async throws {
        try await outbound.close(WebSocketErrorCode(codeNumber: Int(code.rawValue)), reason: reason.isEmpty ? nil : reason)
    }
}

/// The client's messages, whole, as Switchboard messages.
struct InboundMessages: AsyncSequence, Sendable {
    typealias Element = TerminalMessage
    let messages: WebSocketInboundMessageStream

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: WebSocketInboundMessageStream.AsyncIterator

        mutating func next() async throws -> TerminalMessage? {
            switch try await base.next() {
            case .text(let text): .text(text)
            case .binary(let bytes): .binary(bytes)
            case nil: nil
            }
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: messages.makeAsyncIterator()) }
}
