// The servers that `Scripts/bench.py` measures beside `switchboard serve` (Docs/Performance.md):
//
//   BenchServer bare-echo   a bare Hummingbird WebSocket echo at /echo, built from the same package versions as
//                           Switchboard: the ceiling for Switchboard's Echo terminal; `GET /health` answers
//                           `ok`, the ceiling for HTTP requests; /answer answers every message with the three
//                           messages the Shell answers the benchmark's GET with (status line, the same 10 items,
//                           location), made once: the ceiling for Shell GETs on one WebSocket.
//   BenchServer items       Switchboard with `Bench.Item`, 1,000 entities in memory, for the Shell's GET rate over
//                           WebSocket and HTTP; no authentication and no command pacing (loopback only).
//   BenchServer deflate FILE [MESSAGE_BYTES [ROUNDS]]
//                           no server: Switchboard's DEFLATE encoder and zlib's level 1 compress FILE in messages
//                           of MESSAGE_BYTES (65,536 by default, the most a PTY's output is joined into), each
//                           message on its own as permessage-deflate sends it, in turns for ROUNDS rounds (5);
//                           prints each one's CPU time per MB (its fastest round) and the compressed size's share.
//   BenchServer json FILE [MESSAGE_BYTES [ROUNDS]]
//                           no server: frames FILE, line ends made \r\n, as terminado output (`["stdout", "..."]`,
//                           what the browser console gets) in messages of MESSAGE_BYTES with Switchboard's JSON writer and with Foundation's
//                           JSONEncoder in turns; prints each one's CPU time per MB and the framed size's share.
//
// The servers listen on a free loopback port and print `listening on 127.0.0.1:PORT` to standard error, and both
// log as `switchboard serve` does (`DeferredMetadataLogHandler`, at `info`).
import CSwitchboardZlib
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Switchboard
import SwitchboardHummingbird

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An entity of the GET benchmark.
struct Item: Codable, Sendable {
    var id: Int
    var name: String
    var group: Int
    var score: Double
    var active: Bool
}

func announce(_ port: Int) {
    FileHandle.standardError.write(Data("listening on 127.0.0.1:\(port)\n".utf8))
}

func runBareEcho() async throws {
    let webSocketRouter = Router(context: BasicWebSocketRequestContext.self)
    webSocketRouter.ws("/echo") { inbound, outbound, _ in
        for try await message in inbound.messages(maxSize: 16 << 20) {
            switch message {
            case .text(let text): try await outbound.write(.text(text))
            case .binary(let bytes): try await outbound.write(.binary(bytes))
            }
        }
    }
    // The Shell's answer to `GET /bench.item//limit=10`, made once by the same API.
    let response = try await makeItemsAPI().execute(RESTRequest(method: .GET, uri: "/bench.item//limit=10"))
    let answer = [response.statusLine, response.bodyText ?? "", "? " + (response.canonicalURI ?? "")]
    webSocketRouter.ws("/answer") { inbound, outbound, _ in
        for try await _ in inbound.messages(maxSize: 16 << 20) {
            for message in answer { try await outbound.write(.text(message)) }
        }
    }
    let router = Router()
    router.get("/health") { _, _ in "ok" }
    let app = Application(
        router: router,
        server: .http1WebSocketUpgrade(webSocketRouter: webSocketRouter),
        configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { announce($0.localAddress?.port ?? 0) })
    try await app.runService()
}

/// The entities of the GET benchmark.
let benchItems = (0..<1000).map { Item(id: $0, name: "item \($0)", group: $0 % 10, score: Double($0) / 7, active: $0 % 3 == 0) }

/// An API with `Bench.Item`, 1,000 entities in memory, and no command pacing.
func makeItemsAPI() throws -> SwitchboardAPI {
    let api = SwitchboardAPI(configuration: .init(shellCommandsPerSecond: 0))
    api.register(resource: try InMemoryEntityStore<Item>(name: "Bench.Item", initial: benchItems))
    return api
}

func runItems() async throws {
    let api = try makeItemsAPI()
    let server = SwitchboardServer(
        api: api, configuration: .init(maxConnections: 20_000, maxConnectionsPerClient: 20_000), host: "127.0.0.1", port: 0,
        onServerRunning: { announce($0) })
    try await server.run()
}

/// The encoder alone, without a server: `deflate FILE [MESSAGE_BYTES [ROUNDS]]` (see the top of this file).
/// `FILE [MESSAGE_BYTES [ROUNDS]]` of a benchmark without a server: the file's bytes, the size of the messages
/// it is cut into (65,536 unless given) and the rounds (5); the usage and exit status 2 when they are not that.
func fileArguments(_ arguments: [String], of work: String) -> (text: Data, messageBytes: Int, rounds: Int) {
    guard let path = arguments.first, let text = FileManager.default.contents(atPath: path), !text.isEmpty,
        let messageBytes = arguments.count > 1 ? Int(arguments[1]) : 65_536, messageBytes > 0,
        let rounds = arguments.count > 2 ? Int(arguments[2]) : 5, rounds > 0
    else {
        FileHandle.standardError.write(Data("usage: BenchServer \(work) FILE [MESSAGE_BYTES [ROUNDS]]\n".utf8))
        exit(2)
    }
    return (text, messageBytes, rounds)
}

func runDeflate(_ arguments: [String]) throws {
    let (text, messageBytes, rounds) = fileArguments(arguments, of: "deflate")
    guard let fast = sb_fast_deflater_create(15), let zlib = sb_deflater_create(1, 15) else { exit(1) }
    defer {
        sb_fast_deflater_free(fast)
        sb_deflater_free(zlib)
    }
    let capacity = max(sb_fast_deflater_bound(messageBytes), sb_deflater_bound(zlib, messageBytes))
    var output = [UInt8](repeating: 0, count: capacity)
    /// One round of `compress` over the file: the bytes written.
    func round(_ compress: (UnsafePointer<UInt8>, Int, UnsafeMutablePointer<UInt8>) -> Int) -> Int {
        var written = 0
        text.withUnsafeBytes { bytes in
            let base = bytes.bindMemory(to: UInt8.self).baseAddress!
            output.withUnsafeMutableBufferPointer { space in
                for offset in stride(from: 0, to: bytes.count, by: messageBytes) {
                    let count = min(messageBytes, bytes.count - offset)
                    let made = compress(base + offset, count, space.baseAddress!)
                    precondition(made > 0, "the encoder failed")
                    written += made
                }
            }
        }
        return written
    }
    let encoders: [(name: String, compress: (UnsafePointer<UInt8>, Int, UnsafeMutablePointer<UInt8>) -> Int)] = [
        ("switchboard", { sb_fast_deflater_compress(fast, $0, $1, $2, capacity) }),
        (
            "zlib level 1",
            { input, count, into in
                _ = sb_deflater_reset(zlib)  // each message a stream of its own, as Switchboard sends them
                return sb_deflater_compress(zlib, input, count, into, capacity)
            }
        ),
    ]
    reportInTurns(encoders.map(\.name), rounds: rounds, inputBytes: text.count, messageBytes: messageBytes) { index in
        round(encoders[index].compress)
    }
}

/// Runs each contender's round (`round(index)`, which returns the bytes it wrote) in turns for `rounds` rounds,
/// and prints for each its CPU time per MB of the input (its fastest round; the process's CPU, as nothing else
/// runs) and its output's size as a share of the input, one line each, as `Scripts/bench.py` reads them.
func reportInTurns(_ names: [String], rounds: Int, inputBytes: Int, messageBytes: Int, round: (Int) -> Int) {
    var fastest = [Double](repeating: .infinity, count: names.count)
    var sizes = [Int](repeating: 0, count: names.count)
    for _ in 0..<rounds {
        for index in names.indices {
            let start = clock()
            let written = round(index)
            fastest[index] = min(fastest[index], Double(clock() - start) / Double(CLOCKS_PER_SEC))
            precondition(written > 0, "\(names[index]) wrote nothing")
            sizes[index] = written
        }
    }
    let megabytes = Double(inputBytes) / 1e6
    for index in names.indices {
        let line = String(
            format: "%@: %.3f ms/MB, %.4f of the size, %d bytes in messages of %d\n", names[index],
            fastest[index] * 1000 / megabytes, Double(sizes[index]) / Double(inputBytes), inputBytes, messageBytes)
        FileHandle.standardOutput.write(Data(line.utf8))
    }
}

/// `BenchServer json FILE [MESSAGE_BYTES [ROUNDS]]`: frames FILE, its line ends made `\r\n` as a terminal's
/// output has them, as terminado output, `["stdout", "..."]`, in messages of MESSAGE_BYTES, with Switchboard's JSON writer and, in turns with it, with Foundation's
/// `JSONEncoder` (what a Swift server would reach for: the figure beside ours); prints each one's CPU per MB
/// (its fastest round) and the framed size's share.
func runJSON(_ arguments: [String]) throws {
    let (text, messageBytes, rounds) = fileArguments(arguments, of: "json")
    // The file's line ends become `\r\n`, as a terminal's output has them (two escapes each), and messages end
    // where a character does, as the PTY's output is cut (a String needs whole characters).
    var bytes: [UInt8] = []
    bytes.reserveCapacity(text.count + text.count / 16)
    for byte in text {
        if byte == UInt8(ascii: "\n") { bytes.append(UInt8(ascii: "\r")) }
        bytes.append(byte)
    }
    var messages: [[UInt8]] = []
    var offset = 0
    while offset < bytes.count {
        var end = min(offset + messageBytes, bytes.count)
        while end < bytes.count, end > offset + 1, bytes[end] & 0xC0 == 0x80 { end -= 1 }
        messages.append(Array(bytes[offset..<end]))
        offset = end
    }
    let strings = messages.map { String(decoding: $0, as: UTF8.self) }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.withoutEscapingSlashes]
    let writers: [(name: String, frame: (Int) -> Int)] = [
        ("switchboard", { index in messages[index].withUnsafeBytes { JSON.compactTaggedText(tag: "stdout", utf8: $0).readableBytes } }),
        ("Foundation JSONEncoder", { index in (try? encoder.encode(["stdout", strings[index]]).count) ?? 0 }),
    ]
    reportInTurns(writers.map(\.name), rounds: rounds, inputBytes: bytes.count, messageBytes: messageBytes) { index in
        messages.indices.reduce(0) { written, message in written + writers[index].frame(message) }
    }
}

LoggingSystem.bootstrap { label in
    var handler = DeferredMetadataLogHandler.standardError(label: label)
    handler.logLevel = .info
    return handler
}

switch CommandLine.arguments.dropFirst().first {
case "bare-echo": try await runBareEcho()
case "items": try await runItems()
case "deflate": try runDeflate(Array(CommandLine.arguments.dropFirst(2)))
case "json": try runJSON(Array(CommandLine.arguments.dropFirst(2)))
default:
    let usage = "usage: BenchServer bare-echo | items | deflate FILE [MESSAGE_BYTES [ROUNDS]] | json FILE [MESSAGE_BYTES [ROUNDS]]\n"
    FileHandle.standardError.write(Data(usage.utf8))
    exit(2)
}
