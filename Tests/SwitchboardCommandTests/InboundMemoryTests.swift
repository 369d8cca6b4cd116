import Foundation
import Switchboard
import SwitchboardHummingbird
import Testing

@testable import SwitchboardTestSupport

extension CommandLineTests {
    /// permessage-deflate bombs from many connections at once, measured on a real `serve` process: its peak
    /// resident memory grows by a small multiple of the inbound budget, not by the input offered, connections
    /// that wait too long for memory are closed with 1013, and the server goes on answering.
    @Test(arguments: ["binary", "text"])
    func compressedInputCannotMultiplyTheServersMemory(kind: String) async throws {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let budget = 16 << 20
        let messageSize = 4 << 20
        // The PTY program never reads its input, so the messages stay in the server, and costs no CPU.
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let program = data + "/never-reads.sh"
        try "#!/bin/sh\nstty raw -echo\nexec sleep 600\n".write(toFile: program, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: program)
        let (process, port) = try await startServe(
            dataDirectory: data, ["--max-message-size", "\(messageSize)", "--max-inbound-bytes", "\(budget)"],
            environment: ["SHELL": program])
        defer { if process.isRunning { process.terminate() } }
        // 12 raw PTY connections × 2 messages × 4 MiB: 96 MiB of inflated input (6 budgets) from ~100 KiB on the wire.
        let flood = try await run(command: [
            "python3", FileManager.default.currentDirectoryPath + "/Tests/Support/inflate_flood.py",
            "ws://127.0.0.1:\(port)/api(\(try Self.token(data)))", "\(process.processIdentifier)", "12", "2", "\(messageSize)", kind,
        ])
        #expect(flood.status == 0, "\(flood.output)")
        let line = flood.output.split(separator: "\n").last.map(String.init) ?? ""
        let report = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(flood.output)")
        let before = try #require(report["rss_before"] as? Int) * 1024
        let peak = try #require(report["peak"] as? Int) * 1024
        let codes = report["codes"] as? [String: Int] ?? [:]
        // Measured: about 1× the budget for binary input, 2× for text (charged twice its size, and held as the
        // String and as the PTY's bytes). Without the budget, the growth is over 160 MiB (10 budgets) either way.
        let allowed = kind == "binary" ? budget * 3 : budget * 4
        #expect(peak - before < allowed, "peak RSS grew by \((peak - before) >> 20) MiB with a budget of \(budget >> 20) MiB: \(line)")
        #expect((codes["1013"] ?? 0) >= 1, "\(line)")
        #expect((report["reasons"] as? [String] ?? []).contains { $0.hasPrefix("Server busy: no memory for incoming messages") })
        #expect(report["echo_after"] as? Bool == true)
        process.terminate()
        try await onOwnThread { process.waitUntilExit() }
    }

    @Test func serveRefusesAnInboundBudgetSmallerThanTwoMessages() async throws {
        let result = try await run(command: [
            try SwitchboardBinary.url.path, "serve", "--port", "0", "--max-message-size", "1048576", "--max-inbound-bytes", "1048576",
        ])
        #expect(result.status != 0)
        #expect(result.output.contains("--max-inbound-bytes must be at least twice --max-message-size"))
    }
}

/// The inbound budget's accounting, in-process, where the API's counters can be read.
@Suite(.timeLimit(.minutes(1)))
struct InboundBudgetAccountingTests {
    /// Raw-deflate pieces of one compressed message of zero bytes, `size` bytes per piece, as the
    /// payloads of its frames (the last without its trailing `00 00 ff ff`).
    static func deflatedPieces(_ count: Int, size: Int) async throws -> [[UInt8]] {
        let script = """
            import base64, zlib
            c = zlib.compressobj(wbits=-15)
            pieces = [c.compress(bytes(\(size))) + c.flush(zlib.Z_SYNC_FLUSH) for _ in range(\(count))]
            pieces[-1] = pieces[-1][:-4]
            print("\\n".join(base64.b64encode(p).decode() for p in pieces))
            """
        let output = try await runToEnd(["python3", "-c", script]).output
        return output.split(separator: "\n").map { Array(Data(base64Encoded: String($0)) ?? Data()) }
    }

    /// An unmasked client frame (`ws_client.py` masks it): FIN, RSV1 and opcode in the first byte.
    static func frame(_ first: UInt8, _ payload: [UInt8]) -> [UInt8] {
        precondition(payload.count < 65536)
        let length: [UInt8] = payload.count < 126 ? [UInt8(payload.count)] : [126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        return [first] + length + payload
    }

    @Test func everyReservationIsReleasedHoweverAConnectionEnds() async throws {
        let pieces = try await Self.deflatedPieces(2, size: 600 << 10)
        let configuration = SwitchboardServerConfiguration(maxMessageSize: 1 << 20)
        var api: SwitchboardAPI?
        try await TestServer.with(configuration: configuration) { server in
            api = server.api
            // A compressed message handled as usual.
            let echo = try await WebSocketTestClient.connect(server.base + "/api/echo")
            echo.send(String(repeating: "z", count: 100_000))
            #expect(try await echo.receiveText().count == 100_000)
            // Two compressed fragments of 600 KiB each: over the 1 MiB message limit once joined.
            let tooLarge = try await WebSocketTestClient.connect(server.base + "/api/echo")
            tooLarge.send(rawFrame: Self.frame(0x41, pieces[0]))
            tooLarge.send(rawFrame: Self.frame(0x80, pieces[1]))
            #expect(try await tooLarge.closeFrame()?.code == 1009)
            // The first fragment of a compressed message, then the client leaves.
            let leaving = try await WebSocketTestClient.connect(server.base + "/api/echo")
            leaving.send(rawFrame: Self.frame(0x41, pieces[0]))
            try await leaving.close()
            try await echo.close()
        }
        let budget = try #require(api?.inboundMemory)
        #expect(budget.highWater >= 600 << 10, "the fragments were counted")
        #expect(budget.inUse == 0, "\(budget.inUse) bytes still reserved after every connection ended")
    }

    /// A read that waits for memory gives up as soon as its client is gone, rather than after the wait's
    /// timeout (a minute here): the connection ends and holds nothing meanwhile.
    @Test func aWaitForMemoryEndsWhenTheClientGoes() async throws {
        let piece = try #require(try await Self.deflatedPieces(1, size: 600 << 10).first)
        let api = SwitchboardAPI.Configuration(maxInboundBytes: 2 << 20, inboundMemoryTimeout: .seconds(60))
        try await TestServer.with(configuration: SwitchboardServerConfiguration(maxMessageSize: 1 << 20), api: api) { server in
            // Input held: a terminal busy with its first message keeps the next one, 1.8 MB as text, queued.
            let holder = try RawSocket(port: server.port)
            try await holder.upgrade(path: "/api/blocker")
            try holder.write(RawSocket.maskedFrame(opcode: 0x1, payload: Array("hang".utf8)))
            try holder.write(RawSocket.maskedFrame(opcode: 0x1, payload: [UInt8](repeating: UInt8(ascii: "h"), count: 900_000)))
            #expect(await eventually { server.api.inboundMemory.inUse >= 1_800_000 })
            // A compressed message that may inflate to 600 KiB reserves 1.9 MB first, and waits for it.
            let leaving = try RawSocket(port: server.port)
            try await leaving.upgrade(path: "/api/echo", extensions: ["permessage-deflate; client_no_context_takeover"])
            try leaving.write(RawSocket.maskedFrame(opcode: 0x41, payload: piece))
            #expect(await eventually { server.api.inboundMemory.waiterCount == 1 })
            leaving.reset()
            #expect(await eventually { server.api.inboundMemory.waiterCount == 0 }, "the wait went on after its client left")
            #expect(await eventually { server.api.connectionCount == 1 })
            holder.reset()
        }
    }

    /// One compressed frame that inflates past the message limit closes its connection with 1009 (message too
    /// big) once the inflater has written one byte past the limit, not after inflating all of it; and nothing
    /// stays reserved.
    @Test func aFrameThatInflatesPastTheLimitIsClosedWith1009() async throws {
        let pieces = try await Self.deflatedPieces(1, size: 4 << 20)
        let configuration = SwitchboardServerConfiguration(maxMessageSize: 1 << 20)
        var api: SwitchboardAPI?
        try await TestServer.with(configuration: configuration) { server in
            api = server.api
            let bomb = try await WebSocketTestClient.connect(server.base + "/api/echo")
            bomb.send(rawFrame: Self.frame(0xC2, pieces[0]))
            #expect(try await bomb.closeFrame()?.code == 1009)
            let echo = try await WebSocketTestClient.connect(server.base + "/api/echo")
            echo.send(String(repeating: "z", count: 100_000))
            #expect(try await echo.receiveText().count == 100_000)
            try await echo.close()
        }
        let budget = try #require(api?.inboundMemory)
        #expect(budget.inUse == 0, "\(budget.inUse) bytes still reserved after every connection ended")
    }
}

extension CommandLineTests {
    /// Every limit of a real `serve` hit once by `Tests/Support/limits_tour.py` — connection caps, message
    /// size, the inbound budget, Shell pace, conditions, rows, body size, malformed heads — each answered as
    /// documented, with the server's resident memory read after each and still serving at the end.
    @Test func everyLimitIsAnsweredAndMemoryStaysFlat() async throws {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let (process, port) = try await startServe(
            dataDirectory: data,
            [
                "--max-connections", "12", "--max-connections-per-client", "8", "--max-rows-per-request", "4",
                "--max-message-size", "65536", "--max-inbound-bytes", "131072",
            ])
        defer { if process.isRunning { process.terminate() } }
        let tour = try await run(command: [
            "python3", FileManager.default.currentDirectoryPath + "/Tests/Support/limits_tour.py", "\(port)", try Self.token(data),
            "\(process.processIdentifier)",
        ])
        #expect(tour.status == 0, "\(tour.output)")
        var steps: [(name: String, ok: Bool, rss: Int)] = []
        for line in tour.output.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let name = object["step"] as? String, let ok = object["ok"] as? Bool, let rss = object["rss_kib"] as? Int
            else { continue }
            steps.append((name, ok, rss))
            #expect(ok, "\(line)")
        }
        #expect(steps.count == 15, "\(tour.output)")
        let start = try #require(steps.first?.rss)
        let most = steps.map(\.rss).max() ?? start
        let end = steps.last?.rss ?? start
        // Measured: about +5 MiB over the whole tour (connections, buffers, the SQLite cache). A body or a
        // message held after its refusal would show.
        #expect(most - start < 16 << 10, "resident memory rose from \(start) KiB to \(most) KiB")
        #expect(end - start < 12 << 10, "resident memory rose from \(start) KiB to \(end) KiB by the end")
        process.terminate()
        try await onOwnThread { process.waitUntilExit() }
    }
}
