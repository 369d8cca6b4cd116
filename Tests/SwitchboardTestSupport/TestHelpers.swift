import Foundation
import Switchboard
import Synchronization
import Testing

/// Waits for a condition that no event announces (such as the server noticing a reset connection),
/// checking it every 20 ms for up to `within` (10 s).
func eventually(within: Duration = .seconds(10), _ condition: @Sendable () -> Bool) async -> Bool {
    for _ in 0..<Int(within / .milliseconds(20)) {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

/// Whether `program` is on the `PATH`: tests of third-party clients that `.ci/run` installs run only where
/// they are.
func isInstalled(_ program: String) -> Bool {
    (try? Process.run(URL(fileURLWithPath: "/usr/bin/env"), arguments: ["sh", "-c", "command -v \(program) > /dev/null"]))
        .map { process in
            process.waitUntilExit()
            return process.terminationStatus == 0
        } ?? false
}

/// Whether headless Chromium, its driver, selenium and Debian's xterm.js are here (CI installs them), for the
/// tests that drive the browser console.
let browserAvailable: Bool = {
    let files = ["/usr/bin/chromium", "/usr/bin/chromedriver", "/usr/bin/esbuild", "/usr/share/nodejs/xterm/lib/public/Terminal.js"]
    return files.allSatisfy { FileManager.default.fileExists(atPath: $0) } && pythonCanImport("selenium")
}()

/// Whether `python3` here can import a module.
func pythonCanImport(_ module: String) -> Bool {
    let probe = Process()
    probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    probe.arguments = ["python3", "-c", "import \(module)"]
    probe.standardError = FileHandle.nullDevice
    guard (try? probe.run()) != nil else { return false }
    probe.waitUntilExit()
    return probe.terminationStatus == 0
}

/// A TCP client for what a WebSocket library will not do: half-sent requests, resets, raw frames.
final class RawSocket: Sendable {
    let fd: Int32
    private let isClosed = Mutex(false)

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw TestFailure("connect failed") }
    }

    deinit { closeOnce() }

    private func closeOnce() {
        let wasClosed = isClosed.withLock { closed in
            defer { closed = true }
            return closed
        }
        if !wasClosed { close(fd) }
    }

    /// Makes each read give up after `seconds` without data, as if the peer had closed: a test that waits
    /// for an answer that never comes then fails rather than hangs.
    func setReceiveTimeout(seconds: Int) {
        var limit = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Connects, makes each read give up after 20 s (a missing answer fails the test rather than hangs it: give
    /// the server a longer idle timeout), and sends `text`: requests, often several pipelined.
    static func sending(_ text: String, port: Int) throws -> RawSocket {
        let socket = try RawSocket(port: port)
        socket.setReceiveTimeout(seconds: 20)
        try socket.write(Array(text.utf8))
        return socket
    }

    /// Reads one response head (up to its blank line), leaving what follows unread; throws if none comes.
    func readHead() throws -> String {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while !bytes.suffix(4).elementsEqual([13, 10, 13, 10]) {
            guard recv(fd, &byte, 1, 0) == 1 else { throw TestFailure("no response head: \(String(decoding: bytes, as: UTF8.self))") }
            bytes.append(byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw TestFailure("send failed: \(errno)") }
            offset += sent
        }
    }

    /// Reads exactly `count` bytes; fewer if the peer closes first.
    func read(count: Int) throws -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: count)
        while result.count < count {
            let received = recv(fd, &buffer, count - result.count, 0)
            if received <= 0 { return result }
            result += buffer[0..<received]
        }
        return result
    }

    /// Reads until the peer closes.
    func readToEnd() throws -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { return result }
            result += buffer[0..<count]
        }
    }

    /// Reads one HTTP response with a `Content-Length` body, leaving the connection open.
    func readResponse() throws -> String {
        let head = try readHead()
        let length = RawHTTP.header("Content-Length", in: head).flatMap { Int($0) } ?? 0
        var body = [UInt8](repeating: 0, count: length)
        var received = 0
        while received < length {
            let count = body[received...].withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { throw TestFailure("the body ended early") }
            received += count
        }
        return head + String(decoding: body, as: UTF8.self)
    }

    /// Whether the peer has closed the connection (checked without waiting).
    var peerClosed: Bool {
        var byte: UInt8 = 0
        let count = recv(fd, &byte, 1, Int32(MSG_DONTWAIT | MSG_PEEK))
        return count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    /// Sends a WebSocket upgrade, without compression unless `extensions` offers it (one
    /// `Sec-WebSocket-Extensions` line each), with `frames` right behind it in the same write, and returns the
    /// `101` response head.
    @discardableResult
    func upgrade(path: String, extensions: [String] = [], frames: [UInt8] = []) async throws -> String {
        let request =
            "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            + extensions.map { "Sec-WebSocket-Extensions: \($0)\r\n" }.joined() + "\r\n"
        try write(Array(request.utf8) + frames)
        let head = try await onOwnThread { () throws -> String in
            var bytes: [UInt8] = []
            var byte: UInt8 = 0
            while !bytes.suffix(4).elementsEqual([13, 10, 13, 10]) {
                guard recv(self.fd, &byte, 1, 0) == 1 else { throw TestFailure("no upgrade response") }
                bytes.append(byte)
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        guard head.hasPrefix("HTTP/1.1 101") else { throw TestFailure("not upgraded: \(head)") }
        return head
    }

    /// Writes the frame again and again without blocking until the socket stops taking data; returns the
    /// bytes accepted.
    func writeUntilBlocked(_ frame: [UInt8], limit: Int) throws -> Int {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(fd, F_SETFL, flags) }
        var total = 0
        var offset = 0
        var blockedSince: ContinuousClock.Instant?
        while total < limit {
            let sent = frame[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent > 0 {
                total += sent
                offset = (offset + sent) % frame.count
                blockedSince = nil
                continue
            }
            guard errno == EAGAIN || errno == EWOULDBLOCK else { throw TestFailure("send failed: \(errno)") }
            // Blocked; the server may still be draining its side. Stop once it has taken nothing for 1 s.
            if let since = blockedSince, ContinuousClock.now - since > .seconds(1) { return total }
            if blockedSince == nil { blockedSince = .now }
            var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            _ = poll(&poller, 1, 100)
        }
        return total
    }

    /// This end's local port.
    var localPort: Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether a process still has the server's end of this connection open, from `/proc/net/tcp`: a socket
    /// its process closed is either gone or kept by the kernel alone (inode 0) while it sends what was left in
    /// it, which a client that reads nothing never takes.
    func serverEndIsOpen(serverPort: Int) -> Bool { Self.serverEndIsOpen(serverPort: serverPort, clientPort: localPort) }

    /// Whether a process still has the server's end of the connection from `clientPort` open (see the method).
    static func serverEndIsOpen(serverPort: Int, clientPort: Int) -> Bool {
        let ours = String(format: ":%04X", clientPort)
        let server = String(format: ":%04X", serverPort)
        // Read to its end by hand: the file says its size is 0, and a reader that trusts that stops after the
        // first page, which a machine running many tests at once fills.
        var bytes: [UInt8] = []
        let file = open("/proc/net/tcp", O_RDONLY)
        guard file >= 0 else { return false }
        defer { close(file) }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = Glibc.read(file, &chunk, chunk.count)
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        let table = String(decoding: bytes, as: UTF8.self)
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count > 9, fields[1].hasSuffix(server), fields[2].hasSuffix(ours) else { continue }
            return fields[9] != "0"
        }
        return false
    }

    /// Runs `yes` in the PTY of this connection to a PTY terminal, whose output this client never reads, and
    /// returns its pid once it is blocked in `write`: every buffer between it and the client is full.
    /// `lineLength` pads the mark, so that the lines `yes` prints are that long.
    func floodThatNobodyReads(lineLength: Int = 0) async throws -> Int32 {
        let (frame, mark) = RawSocket.floodCommand(lineLength: lineLength)
        try write(frame)
        return try await RawSocket.blockedYes(mark)
    }

    /// The client frame of a command that runs `yes` with a mark of its own (other tests may run a `yes` at the
    /// same time), at least `lineLength` characters long, and the mark.
    static func floodCommand(lineLength: Int = 0) -> (frame: [UInt8], mark: String) {
        var mark = "flood-\(UInt32.random(in: 0...UInt32.max))"
        if mark.count < lineLength { mark += String(repeating: "x", count: lineLength - mark.count) }
        return (maskedFrame(opcode: 0x1, payload: Array("exec yes \(mark)".utf8)), mark)
    }

    /// The pid of the `yes` of ``floodCommand()`` with this mark, once it is blocked in `write`.
    static func blockedYes(_ mark: String) async throws -> Int32 {
        var yes: Int32?
        while yes == nil {
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
                guard let pid = Int32(entry), let cmdline = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)
                else { continue }
                if cmdline == "yes\0\(mark)\0" { yes = pid }
            }
            if yes == nil { await Task.yield() }
        }
        // Blocked in write: asleep every time we look, because nobody reads the PTY.
        var asleep = 0
        while asleep < 20 {
            asleep = processState(of: yes!) == "S" ? asleep + 1 : 0
            try await Task.sleep(for: .milliseconds(25))
        }
        return yes!
    }

    /// Closes with a TCP reset (linger 0).
    func reset() {
        var linger = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<linger>.size))
        closeOnce()
    }

    /// A client frame (FIN set, masked) with the payload.
    static func maskedFrame(opcode: UInt8, payload: [UInt8], fin: Bool = true) -> [UInt8] {
        var frame: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        switch payload.count {
        case ..<126: frame.append(0x80 | UInt8(payload.count))
        case ..<65536: frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        default: frame += [0x80 | 127] + (0..<8).reversed().map { UInt8((payload.count >> ($0 * 8)) & 0xFF) }
        }
        let key: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        frame += key
        frame += payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
        return frame
    }

    /// The code of the first close frame in bytes the server sent (unmasked, short frames).
    static func closeCode(in bytes: [UInt8]) -> Int? {
        var index = 0
        while index + 1 < bytes.count {
            let opcode = bytes[index] & 0x0F
            let length = Int(bytes[index + 1] & 0x7F)
            guard length < 126 else { return nil }
            if opcode == 0x8, length >= 2, index + 3 < bytes.count {
                return Int(bytes[index + 2]) << 8 | Int(bytes[index + 3])
            }
            index += 2 + length
        }
        return nil
    }
}

/// Waits (up to 10 s) until an asynchronous condition holds.
func eventuallyAsync(_ condition: @Sendable () async -> Bool) async -> Bool {
    for _ in 0..<500 {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return await condition()
}

extension Thread {
    /// Reads a pipe to its end on a new thread; the returned function waits for, and returns, the data.
    static func detachNewThreadReading(_ handle: FileHandle) -> @Sendable () -> Data {
        let box = DataBox()
        let done = DispatchSemaphore(value: 0)
        Thread {
            box.data = handle.readDataToEndOfFile()
            done.signal()
        }.start()
        return {
            done.wait()
            return box.data
        }
    }
}

final class DataBox: @unchecked Sendable {
    // Written once before the semaphore is signalled, read after waiting on it.
    var data = Data()
}

/// A connection opened before a bad-input case and checked after it: the server still serves others.
struct Witness {
    let client: WebSocketTestClient

    static func open(_ server: TestServer) async throws -> Witness {
        Witness(client: try await WebSocketTestClient.connect(server.base + "/api/echo"))
    }

    func stillWorks() async throws {
        client.send("still here")
        #expect(try await client.receiveText() == "still here")
        #expect(try await client.close()?.code == 1000)
    }
}

/// The banner the Shell greets with.
let shellBanner = "### Entering the Switchboard shell. Type HELP for commands, or a URI such as /echo to navigate. ###"

extension WebSocketTestClient {
    /// Reads messages until their text contains `marker`; returns all of it (a PTY's output comes in pieces
    /// of any size). `PTY_TEST_TRACE=1` prints each piece.
    func read(until marker: String) async throws -> String {
        var text = ""
        var found = false
        while !found {
            guard let message = await receive() else {
                throw TestFailure("closed before '\(marker)' arrived; got: \(text.suffix(2000).debugDescription)")
            }
            guard case .text(let part) = message else { continue }
            // Look only where the marker can be: the end of what came before and the new part.
            found = (String(text.suffix(marker.count)) + part).contains(marker)
            text += part
            if ProcessInfo.processInfo.environment["PTY_TEST_TRACE"] != nil { print("PTY<", part.debugDescription) }
        }
        return text
    }
}

/// The state letter of a process (`R`, `S`, `Z`, …), or nil if it is gone.
/// Whether the process has ended: gone, or a zombie not yet reaped.
func hasEnded(_ pid: Int32) -> Bool { processState(of: pid).map { $0 == "Z" } ?? true }

func processState(of pid: Int32) -> Character? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else {
        return nil
    }
    return stat[stat.index(after: close)...].split(separator: " ").first?.first
}

/// Makes a self-signed certificate for localhost and 127.0.0.1 with openssl; returns the two paths.
func makeSelfSignedCertificate(in directory: String, name: String) throws -> (certificate: String, key: String) {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let certificate = directory + "/\(name).pem"
    let key = directory + "/\(name)-key.pem"
    let openssl = Process()
    openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    openssl.arguments = [
        "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out",
        certificate, "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ]
    openssl.standardError = FileHandle.nullDevice
    try openssl.run()
    openssl.waitUntilExit()
    guard openssl.terminationStatus == 0 else { throw TestFailure("openssl failed") }
    return (certificate, key)
}

/// `Tests/Support/unread_answers.py` run against a server: an HTTP client that sends pipelined `GET`s of
/// `path` and reads none of the answers. Returns once the server has stopped taking its requests (every
/// buffer between them is full), with the client's local port; the client holds the connection until
/// `finish` is called. With a small `receiveBuffer` the client's kernel drops what does not fit, and the
/// server's sends it again.
struct UnreadAnswersClient {
    let process: Process
    private let input: Pipe
    let clientPort: Int

    init(port: Int, path: String, tls: Bool = false, receiveBuffer: Int? = nil, headers: [String] = []) async throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            ["python3", FileManager.default.currentDirectoryPath + "/Tests/Support/unread_answers.py", "\(port)", path]
            + (tls ? ["--tls"] : []) + (receiveBuffer.map { ["--receive-buffer", "\($0)"] } ?? []) + headers.flatMap { ["--header", $0] }
        input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let line = try await firstLine(of: output.fileHandleForReading)
        guard line.hasPrefix("stalled "), let port = Int(line.dropFirst(8).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.terminate()
            throw TestFailure("unread_answers.py said: \(line)")
        }
        clientPort = port
    }

    /// Lets the client go (it closes its end) and waits for it.
    func finish() async throws {
        try? input.fileHandleForWriting.close()
        let process = process
        try await onOwnThread { process.waitUntilExit() }
    }
}

/// `Tests/Support/connection_flood.py` run against a server: `count` connections opened at once from
/// `source` (any 127.x.x.x address is this machine), each sending `GET /api/`. ``outcome`` counts how they
/// were met, as in `200=4 503=2 closed=0 silent=0`; the connections the server keeps stay open until
/// ``finish()``.
struct ConnectionFlood {
    let process: Process
    private let input: Pipe
    /// Each status code seen, then the connections closed without one and those left with no answer (10 s).
    let outcome: String
    /// ``outcome`` as numbers by name (`"200"`, `"503"`, `"closed"`, `"silent"`); a name not seen is missing.
    var counts: [String: Int] {
        Dictionary(
            uniqueKeysWithValues: outcome.split(separator: " ").map { pair in
                let parts = pair.split(separator: "=")
                return (String(parts[0]), parts.count == 2 ? Int(parts[1]) ?? -1 : -1)
            })
    }

    init(port: Int, count: Int, source: String = "127.0.0.1") async throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", FileManager.default.currentDirectoryPath + "/Tests/Support/connection_flood.py", "\(port)", "\(count)",
            "--source", source, "--hold",
        ]
        input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        outcome = try await firstLine(of: output.fileHandleForReading).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Opens the connections, counts how they were met, and closes them.
    static func outcome(port: Int, count: Int, source: String = "127.0.0.1") async throws -> String {
        let flood = try await ConnectionFlood(port: port, count: count, source: source)
        try await flood.finish()
        return flood.outcome
    }

    /// Closes the connections and waits for the client to end.
    func finish() async throws {
        try? input.fileHandleForWriting.close()
        let process = process
        try await onOwnThread { process.waitUntilExit() }
    }
}
