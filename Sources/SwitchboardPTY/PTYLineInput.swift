public import NIOCore
public import Switchboard

/// How a raw-mode PTY terminal reads the client's text messages.
public enum PTYInputMode: String, CaseIterable, PropertyValue {
    /// For line clients (wscat, `python -m websockets`, wsdump): every text message is one line and gets
    /// Enter; an empty message is Enter alone; `^C`, `^D`, `^Z`, `^[` … alone are that control character;
    /// a message made of key names (`<Up>`, `<Tab>`, `<F1>` …) is those keys. See ``PTYLineInput``.
    case line
    /// For terminal-like clients (`switchboard connect` in a terminal): text messages are keystrokes, sent
    /// as they are.
    case keys
}

/// The keystrokes a line client's text message stands for, in ``PTYInputMode/line``.
///
/// | Message | Sent to the program |
/// |---|---|
/// | `ls -l` | `ls -l` and Enter (a trailing line break is dropped first; inner ones become Enter) |
/// | (empty) | Enter |
/// | `^C`, `^d`, `^[`, `^?` … (a caret and one letter or one of `@[\]^_?`) | that control character alone: Ctrl-C, Ctrl-D, Esc, Delete |
/// | `<Up>`, `<Up><Up><Enter>` (nothing but key names) | those keys, no Enter |
/// | `\^C`, `\<Up>` (a backslash before what would be a key) | the text after the backslash, as a line |
///
/// Key names, in any case: `Up`, `Down`, `Left`, `Right`, `Home`, `End`, `PgUp`, `PgDn`, `Ins`, `Del`,
/// `Tab`, `BackTab`, `Esc`, `Enter`, `Backspace`, `Space`, `F1` … `F12`.
public enum PTYLineInput {
    /// The escape sequences of the named keys (as xterm sends them in normal cursor mode).
    public static let keys: [String: String] = [
        "up": "\u{1B}[A", "down": "\u{1B}[B", "right": "\u{1B}[C", "left": "\u{1B}[D",
        "home": "\u{1B}[H", "end": "\u{1B}[F", "pgup": "\u{1B}[5~", "pgdn": "\u{1B}[6~",
        "ins": "\u{1B}[2~", "del": "\u{1B}[3~", "tab": "\t", "backtab": "\u{1B}[Z",
        "esc": "\u{1B}", "enter": "\r", "backspace": "\u{7F}", "space": " ",
        "f1": "\u{1B}OP", "f2": "\u{1B}OQ", "f3": "\u{1B}OR", "f4": "\u{1B}OS",
        "f5": "\u{1B}[15~", "f6": "\u{1B}[17~", "f7": "\u{1B}[18~", "f8": "\u{1B}[19~",
        "f9": "\u{1B}[20~", "f10": "\u{1B}[21~", "f11": "\u{1B}[23~", "f12": "\u{1B}[24~",
    ]

    /// What a line client's message sends.
    public static func keystrokes(for message: String) -> ByteBuffer {
        if let control = control(message) { return ByteBuffer(bytes: [control]) }
        if let keys = namedKeys(message) { return ByteBuffer(string: keys) }
        var line = Substring(message)
        if line.hasPrefix("\\"), control(String(line.dropFirst())) != nil || namedKeys(String(line.dropFirst())) != nil {
            line = line.dropFirst()
        }
        // One trailing line break is the Enter the line gets anyway. By UTF-8 bytes: to String, "\r\n" is one
        // character.
        var body = line.utf8[...]
        if body.last == UInt8(ascii: "\n") { body = body.dropLast() }
        if body.last == UInt8(ascii: "\r") { body = body.dropLast() }
        // Inner line breaks become Enter: \r\n and \n alike. Written a line at a time, not a byte at a time:
        // a pasted message can be megabytes.
        var bytes = ByteBuffer()
        bytes.reserveCapacity(body.count + 1)
        for (index, segment) in body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            if index > 0 { bytes.writeInteger(UInt8(ascii: "\r")) }
            bytes.writeBytes(segment.last == UInt8(ascii: "\r") ? segment.dropLast() : segment)
        }
        bytes.writeInteger(UInt8(ascii: "\r"))
        return bytes
    }

    /// `^C` → 0x03, `^[` → 0x1B, `^?` → 0x7F; `nil` for anything else.
    static func control(_ message: String) -> UInt8? {
        let scalars = Array(message.unicodeScalars)
        guard scalars.count == 2, scalars[0] == "^", scalars[1].isASCII else { return nil }
        let value = UInt8(scalars[1].value)
        switch value {
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return value - UInt8(ascii: "a") + 1
        case UInt8(ascii: "@")...UInt8(ascii: "_"): return value - UInt8(ascii: "@")
        case UInt8(ascii: "?"): return 0x7F
        default: return nil
        }
    }

    /// `<Up><Up><Enter>` → their sequences; `nil` unless the whole message is key names.
    static func namedKeys(_ message: String) -> String? {
        guard message.hasPrefix("<"), message.hasSuffix(">") else { return nil }
        var result = ""
        var rest = Substring(message)
        while !rest.isEmpty {
            guard rest.first == "<", let end = rest.firstIndex(of: ">") else { return nil }
            guard let sequence = keys[rest[rest.index(after: rest.startIndex)..<end].lowercased()] else { return nil }
            result += sequence
            rest = rest[rest.index(after: end)...]
        }
        return result
    }

    /// What a PTY opened in line mode says first.
    static let greeting =
        "[switchboard: line mode. Each message is a line. Send ^C, ^D, ^Z or ^[ alone for Ctrl-C, Ctrl-D, Ctrl-Z, Esc; "
        + "<Up>, <Tab>, <F1> and the like for keys; \\^C to send the text ^C. #SHELL leaves, #DISCONNECT closes.]\r\n"
}
