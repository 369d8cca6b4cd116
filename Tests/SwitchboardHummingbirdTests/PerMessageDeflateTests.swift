import Foundation
import NIOCore
import Switchboard
import Testing

@testable import SwitchboardHummingbird

@testable import SwitchboardTestSupport

/// Switchboard's permessage-deflate (RFC 7692) as a client meets it: what the server answers to each offer,
/// and what it does with compressed frames it cannot take.
@Suite(.timeLimit(.minutes(1)))
struct PerMessageDeflateTests {
    static let both = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

    /// Every offer is answered without context takeover either way (a server may ask for both, sections
    /// 7.1.1.1 and 7.1.1.2), with the client's limit on the server's window repeated; an offer with a parameter
    /// that is unknown, has a value it must not have, or is out of range is declined, and the next one is taken.
    @Test func everyOfferIsAnsweredWithoutContextTakeover() async throws {
        let cases: [(offers: [String], answer: String?)] = [
            (["permessage-deflate"], Self.both),
            // What browsers and Python `websockets` offer.
            (["permessage-deflate; client_max_window_bits"], Self.both),
            (["permessage-deflate; client_max_window_bits=10; client_no_context_takeover"], Self.both),
            (["permessage-deflate; server_no_context_takeover; client_no_context_takeover"], Self.both),
            (["permessage-deflate; server_max_window_bits=10"], Self.both + "; server_max_window_bits=10"),
            (["permessage-deflate; server_max_window_bits=\"12\""], Self.both + "; server_max_window_bits=12"),
            (["permessage-deflate; server_max_window_bits=8"], Self.both + "; server_max_window_bits=8"),
            // Declined, and the next offer taken.
            (["permessage-deflate; server_max_window_bits=16", "permessage-deflate; server_max_window_bits=9"], Self.both + "; server_max_window_bits=9"),
            (["permessage-deflate; x-unknown", "permessage-deflate"], Self.both),
            // Several offers in one line (RFC 6455, section 9.1), as Autobahn's cases 13.7 send them.
            (
                ["permessage-deflate; server_max_window_bits=16, permessage-deflate; server_max_window_bits=10"],
                Self.both + "; server_max_window_bits=10"
            ),
            (
                [
                    "permessage-deflate; client_no_context_takeover; server_max_window_bits=9, "
                        + "permessage-deflate; client_no_context_takeover, permessage-deflate"
                ],
                Self.both + "; server_max_window_bits=9"
            ),
            (["x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=\"1,2\", permessage-deflate"], Self.both),
            // Declined, with nothing after: no compression.
            (["permessage-deflate; server_max_window_bits=010"], nil),
            (["permessage-deflate; server_max_window_bits"], nil),
            (["permessage-deflate; server_max_window_bits=7"], nil),
            (["permessage-deflate; client_max_window_bits=16"], nil),
            (["permessage-deflate; server_no_context_takeover=1"], nil),
            (["x-webkit-deflate-frame"], nil),
        ]
        try await TestServer.with { server in
            for (offers, expected) in cases {
                let raw = try RawSocket(port: server.port)
                let head = try await raw.upgrade(path: "/api/echo", extensions: offers)
                let answer = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("sec-websocket-extensions:") }
                    .map { $0.dropFirst("sec-websocket-extensions:".count).trimmingCharacters(in: .whitespaces) }
                #expect(answer == expected, "\(offers)")
                raw.reset()
            }
        }
    }

    /// A compressed message whose first fragment arrives with the upgrade request, before the connection's
    /// reader takes its frames from the watch's queue, and whose last fragment arrives after: the first is
    /// inflated through Hummingbird's stream and the last from the queue, by one inflater, and the message
    /// arrives whole. (The watch's marker of where its queue begins once passed for a new message and reset
    /// the open one: the rest went on uncompressed, and the echo was short.)
    @Test func aCompressedMessageBegunBeforeTheConnectionIsReadyArrivesWhole() async throws {
        let text = String(repeating: "a compressed message in two fragments, ", count: 3)
        let deflater = try #require(Deflater(level: 6, windowBits: 15))
        let stream = try #require(deflater.compress(ByteBuffer(string: text), allocator: ByteBufferAllocator()))
        let bytes = Array(stream.readableBytesView.dropLast(4))
        let half = bytes.count / 2
        try await TestServer.with { server in
            for _ in 0..<5 {
                let raw = try RawSocket(port: server.port)
                try await raw.upgrade(
                    path: "/api/echo", extensions: ["permessage-deflate"],
                    frames: RawSocket.maskedFrame(opcode: 0x41, payload: Array(bytes[..<half]), fin: false))
                try raw.write(RawSocket.maskedFrame(opcode: 0x0, payload: Array(bytes[half...])))
                // Under 126 bytes: the echo goes uncompressed, with a one-byte length.
                let echo = try await onOwnThread { try raw.read(count: 2 + text.utf8.count) }
                #expect(echo == [0x81, UInt8(text.utf8.count)] + Array(text.utf8))
                raw.reset()
            }
        }
    }

    /// A compressed frame that is not DEFLATE fails its connection, as RFC 7692 asks, with 1002 (protocol
    /// error), and the server goes on serving. So does RSV1 on a continuation frame (RFC 7692, section 6.1).
    /// The same for a frame that is not DEFLATE in the write of the upgrade request, which Hummingbird's stream
    /// inflates, before the connection's reader takes its frames (until 2026-12-08 closed with 1011, the code
    /// for a failure of the server).
    @Test(arguments: ["not deflate", "rsv1 on a continuation", "not deflate, in the upgrade's write"])
    func compressedInputThatBreaksTheRulesFailsItsConnectionOnly(_ breach: String) async throws {
        try await TestServer.with { server in
            let witness = try await Witness.open(server)
            let raw = try RawSocket(port: server.port)
            let notDeflate = RawSocket.maskedFrame(opcode: 0x41, payload: [0xFF, 0xFF, 0xFF, 0xFF])
            if breach.hasSuffix("in the upgrade's write") {
                try await raw.upgrade(path: "/api/echo", extensions: ["permessage-deflate"], frames: notDeflate)
                let bytes = try await onOwnThread { try raw.readToEnd() }
                #expect(RawSocket.closeCode(in: bytes) == 1002, "\(breach): \(bytes)")
                try await witness.stillWorks()
                return
            }
            try await raw.upgrade(path: "/api/echo", extensions: ["permessage-deflate"])
            // An uncompressed message and its echo first: the connection's reader takes its frames now.
            try raw.write(RawSocket.maskedFrame(opcode: 0x1, payload: Array("hello".utf8)))
            #expect(try await onOwnThread { try raw.read(count: 7) } == [0x81, 5] + Array("hello".utf8))
            if breach == "not deflate" {
                // RSV1 and text; block type 3 (reserved).
                try raw.write(notDeflate)
            } else {
                try raw.write(RawSocket.maskedFrame(opcode: 0x1, payload: Array("a".utf8), fin: false))
                try raw.write(RawSocket.maskedFrame(opcode: 0x40, payload: Array("b".utf8)))
            }
            let bytes = try await onOwnThread { try raw.readToEnd() }
            #expect(RawSocket.closeCode(in: bytes) == 1002, "\(breach): \(bytes)")
            try await witness.stillWorks()
        }
    }
}
