import Foundation
import Testing

@testable import SwitchboardTestSupport

extension CommandLineTests {
    /// `serve --compression-level` sets how hard what the server sends is deflated: a real `serve` echoes 48 KiB
    /// of text to a raw client that offers permessage-deflate (`Tests/Support/deflate_client.py echo`), and the
    /// echo's frame is as large as zlib makes that text at the level asked for (level 1 by default, 9 on
    /// request) and inflates to what was sent; `0` offers no compression; anything else is refused.
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
            let size = try #require(result["size"] as? Int)
            let zlib1 = try #require(result["zlib1"] as? Int)
            let zlib9 = try #require(result["zlib9"] as? Int)
            // The two levels differ by about 15 % on this text; the server's zlib may differ from Python's in
            // the last bytes, not by that much.
            #expect(zlib9 * 100 < zlib1 * 95, "the text tells the levels apart: \(line)")
            switch level {
            case 1: #expect(abs(size - zlib1) * 100 <= zlib1, "level 1: \(line)")
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

    /// A PTY's output reaches a client with permessage-deflate whole: `cat` of a megabyte of the guides through a
    /// real `serve` to a raw client (`Tests/Support/deflate_client.py pty`), which inflates each compressed
    /// message with one inflater for the connection (the server keeps its context from message to message) and
    /// takes the uncompressed ones (the direct road's) as they are, in order.
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
        let file = data + "/text.md"
        try text.prefix(1 << 20).write(to: URL(fileURLWithPath: file))
        let (line, result) = try await deflateClient("pty", port: port, token: try Self.token(data), file: file)
        #expect(result["whole"] as? Bool == true, "\(line)")
        let compressed = try #require(result["compressed"] as? Int)
        let wire = try #require(result["compressed_wire"] as? Int)
        #expect(compressed > 0 && wire * 2 < compressed, "output went compressed, at least two to one: \(line)")
        process.terminate()
        try await onOwnThread { process.waitUntilExit() }
    }

    /// Runs `Tests/Support/deflate_client.py` and returns its JSON line, as text and as an object.
    func deflateClient(_ mode: String, port: Int, token: String, file: String) async throws -> (String, [String: Any]) {
        let client = try await run(command: [
            "python3", FileManager.default.currentDirectoryPath + "/Tests/Support/deflate_client.py", mode, "\(port)", token, file,
        ])
        #expect(client.status == 0, "\(client.output)")
        let line = String(try #require(client.output.split(separator: "\n").last, "\(client.output)"))
        return (line, try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)"))
    }
}
