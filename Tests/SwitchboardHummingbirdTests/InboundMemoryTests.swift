import Foundation
import Testing

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
        // Binary input is held once; a text message also as the String made of it, and the PTY copies it to bytes.
        // Without the budget, the growth is over 160 MiB (10 budgets) either way.
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
