import Foundation
import Testing

@testable import SwitchboardTestSupport

extension CommandLineTests {
    /// `serve --compression-level` sets how hard what the server sends is deflated: a real `serve` echoes 48 KiB
    /// of text to a raw client that offers permessage-deflate (`Tests/Support/deflate_client.py echo`), and the
    /// echo's frame inflates to what was sent and is as large as that text comes out at the level asked for:
    /// by default level 1, Switchboard's own encoder, within 5 % of zlib's level 1 (1.3 % larger when this was
    /// written); on request zlib's level 9, to the byte but for the last few; `0` offers no compression;
    /// anything else is refused. A burst of short and long messages comes back in order, the short ones (which
    /// skip Hummingbird's writer) uncompressed and the long ones compressed.
    @Test func theCompressionLevelSetsHowHardTheServerDeflates() async throws {
        let text = FileManager.default.currentDirectoryPath + "/Docs/Performance.md"
        for (arguments, level) in [([String](), 1), (["--compression-level", "9"], 9), (["--compression-level", "0"], 0)] {
            let data = Self.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: data) }
            let (process, port) = try await startServe(dataDirectory: data, arguments)
            defer { if process.isRunning { process.terminate() } }
            let (line, result) = try await deflateClient("echo", port: port, token: try Self.token(data), file: text)
            #expect(result["intact"] as? Bool == true, "level \(level): the echo is what was sent: \(line)")
            #expect(result["negotiated"] as? Bool == (level > 0), "level \(level): \(line)")
            #expect(result["compressed"] as? Bool == (level > 0), "level \(level): \(line)")
            if level > 0 {
                #expect(result["answer"] as? String == Self.deflateAnswer, "level \(level): \(line)")
                #expect(result["fragments_intact"] as? Bool == true, "level \(level): a compressed message in two fragments: \(line)")
                #expect(result["burst_in_order"] as? Bool == true, "level \(level): short and long messages in one burst: \(line)")
                #expect(result["burst_compressed_as_expected"] as? Bool == true, "level \(level): \(line)")
            }
            let size = try #require(result["size"] as? Int)
            let zlib1 = try #require(result["zlib1"] as? Int)
            let zlib9 = try #require(result["zlib9"] as? Int)
            // zlib's two levels differ by about 15 % on this text; the server's zlib may differ from Python's in
            // the last bytes, not by that much.
            #expect(zlib9 * 100 < zlib1 * 95, "the text tells the levels apart: \(line)")
            switch level {
            case 1: #expect(abs(size - zlib1) * 100 <= zlib1 * 5 && size < zlib9 * 2, "level 1: \(line)")
            case 9: #expect(abs(size - zlib9) * 100 <= zlib9, "level 9: \(line)")
            default: #expect(size == result["sent"] as? Int, "no compression: \(line)")
            }
            process.terminate()
            try await onOwnThread { process.waitUntilExit() }
        }
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let refused = try await run(["serve", "--port", "0", "--compression-level", "10", "--data-dir", data], input: "")
        #expect(refused.status != 0)
        #expect(refused.err.contains("--compression-level must be 0 (no compression) to 9"), "\(refused.err)")
    }

    /// What the server answers every offer of permessage-deflate: no context takeover either way, so that no
    /// connection holds a compressor or an inflater between messages (`PerMessageDeflate`).
    static let deflateAnswer = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

    /// A PTY's output reaches a client with permessage-deflate whole: `cat` of a megabyte of the guides through a
    /// real `serve` to a raw client (`Tests/Support/deflate_client.py pty`), which inflates each compressed
    /// message with an inflater of its own (the server answered `server_no_context_takeover`, so a message that
    /// referred to an earlier one would not inflate) and takes the uncompressed ones as they are, in order. Only
    /// messages too short to compress come uncompressed, also those that take the direct road from the PTY.
    @Test func ptyOutputReachesACompressingClientWhole() async throws {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let (process, port) = try await startServe(dataDirectory: data)
        defer { if process.isRunning { process.terminate() } }
        let docs = FileManager.default.currentDirectoryPath + "/Docs"
        var text = Data()
        for name in try FileManager.default.contentsOfDirectory(atPath: docs).sorted() where name.hasSuffix(".md") {
            text.append(try Data(contentsOf: URL(fileURLWithPath: docs + "/" + name)))
        }
        // A megabyte of them, ended at an ASCII byte: a PTY's output reaches its clients at whole characters, so
        // a character cut at the end would never arrive (as happened once the guides grew past the cut).
        var megabyte = text.prefix(1 << 20)
        while let last = megabyte.last, last >= 0x80 { megabyte = megabyte.dropLast() }
        let file = data + "/text.md"
        try megabyte.write(to: URL(fileURLWithPath: file))
        let (line, result) = try await deflateClient("pty", port: port, token: try Self.token(data), file: file)
        #expect(result["whole"] as? Bool == true, "\(line)")
        #expect(result["answer"] as? String == Self.deflateAnswer, "\(line)")
        let compressed = try #require(result["compressed"] as? Int)
        let wire = try #require(result["compressed_wire"] as? Int)
        #expect(compressed > 0 && wire * 2 < compressed, "output went compressed, at least two to one: \(line)")
        // What goes uncompressed is what permessage-deflate leaves so (under 256 bytes), whichever way it left.
        #expect(try #require(result["largest_uncompressed"] as? Int) < 256, "\(line)")
        process.terminate()
        try await onOwnThread { process.waitUntilExit() }
    }

    /// A client that limits the server's window (`server_max_window_bits`) gets what it can inflate: messages
    /// compressed with that window (the raw client inflates them with no larger one), down to 256 bytes at the
    /// default level (Switchboard's encoder); at a level of zlib's, whose compressor cannot keep to 256 bytes,
    /// those go uncompressed.
    @Test func aClientsLimitOnTheServersWindowIsKept() async throws {
        let text = FileManager.default.currentDirectoryPath + "/Docs/Performance.md"
        for (arguments, level) in [([String](), 1), (["--compression-level", "9"], 9)] {
            let data = Self.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: data) }
            let (process, port) = try await startServe(dataDirectory: data, arguments)
            defer { if process.isRunning { process.terminate() } }
            var sizes: [Int: Int] = [:]
            for bits in [8, 9, 12, 15] {
                let (line, result) = try await deflateClient("window", port: port, token: try Self.token(data), file: text, "\(bits)")
                #expect(result["answer"] as? String == Self.deflateAnswer + "; server_max_window_bits=\(bits)", "\(line)")
                #expect(result["intact"] as? Bool == true, "level \(level): inflated with a window of 2^\(bits) bytes: \(line)")
                #expect(result["compressed"] as? Bool == (bits > 8 || level == 1), "level \(level): \(line)")
                sizes[bits] = result["size"] as? Int
            }
            // A smaller window finds fewer matches: the sizes tell that the window was used, not just allowed.
            let windows = level == 1 ? [8, 9, 12, 15] : [9, 12, 15]
            let smallerIsLarger = zip(windows, windows.dropFirst()).allSatisfy { (sizes[$0] ?? 0) > (sizes[$1] ?? 0) }
            #expect(smallerIsLarger, "level \(level): \(sizes)")
            process.terminate()
            try await onOwnThread { process.waitUntilExit() }
        }
    }

    /// An idle connection that negotiated permessage-deflate (as every browser does) holds no compressor and no
    /// inflater: on a real `serve`, 300 connections that offer it, each after one message compressed both ways,
    /// grow the server's resident memory by about as much as 300 that do not (`Tests/Support/idle_compressing.py`,
    /// Python `websockets`). Measured on a release build with 1,000 of each: 27 against 28 KiB each; with a
    /// compressor and an inflater kept for each connection from its handshake on (Hummingbird's
    /// permessage-deflate), 135 against 28; with them pooled but the compressing connections' reader waiting in
    /// Hummingbird's stream rather than parked on the watch's queue, 34 against 28.
    @Test func anIdleCompressingConnectionHoldsNoCompressor() async throws {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let (process, port) = try await startServe(dataDirectory: data, ["--max-connections-per-client", "1000"])
        defer { if process.isRunning { process.terminate() } }
        let client = try await run(command: [
            "python3", FileManager.default.currentDirectoryPath + "/Tests/Support/idle_compressing.py",
            "ws://127.0.0.1:\(port)/api(\(try Self.token(data)))/echo", "\(process.processIdentifier)", "300",
        ])
        #expect(client.status == 0, "\(client.output)")
        let line = String(try #require(client.output.split(separator: "\n").last, "\(client.output)"))
        let result = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
        let plain = try #require(result["plain_kib"] as? Double)
        let compressing = try #require(result["compressing_kib"] as? Double)
        #expect(result["answer"] as? String == Self.deflateAnswer, "\(line)")
        #expect(compressing < plain + 4, "a compressing connection costs \(compressing) KiB, a plain one \(plain): \(line)")
        process.terminate()
        try await onOwnThread { process.waitUntilExit() }
    }

    /// Runs `Tests/Support/deflate_client.py` and returns its JSON line, as text and as an object.
    func deflateClient(_ mode: String, port: Int, token: String, file: String, _ more: String...) async throws -> (String, [String: Any]) {
        let client = try await run(
            command: [
                "python3", FileManager.default.currentDirectoryPath + "/Tests/Support/deflate_client.py", mode, "\(port)", token, file,
            ] + more)
        #expect(client.status == 0, "\(client.output)")
        let line = String(try #require(client.output.split(separator: "\n").last, "\(client.output)"))
        return (line, try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)"))
    }
}
