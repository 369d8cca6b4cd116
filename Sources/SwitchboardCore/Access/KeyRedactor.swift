/// Takes keys out of text that other people are shown: a URI or a message in `Switchboard.Admin.Error`, an
/// event in the console's feed, a terminal's properties in `Switchboard.Admin.WebSocket`.
///
/// A key belongs only right after the API root (`/api(<key>)/shell`), where the transport takes it out
/// before anything sees the URI, or in a header. A caller who puts it anywhere else (`/api/shell(<key>)`,
/// `/api(<key>)/nonexistent(<key>)`, a condition's value, a Shell command) would otherwise have it kept where
/// administrators, and in a cluster every instance, can read it; and keys are stored hashed so that nobody
/// can. Every word of such text that the ``Authenticator`` accepts as a key (``Authenticator/isKey(_:)``) is
/// replaced by `(redacted)`.
///
/// Words are runs of the characters a key may hold (printable ASCII but for parentheses, commas, semicolons
/// and quotes), checked whole, in the pieces between the URI's delimiters (`/`, `?`, `&`, `#`, `=`, `:`), and
/// as the value of an assignment (`name=<key>`, whatever the key holds). Words shorter than
/// ``minimumLength`` are not checked.
struct KeyRedactor: Sendable {
    let authenticator: any Authenticator

    /// What a key is replaced by.
    static let replacement = "(redacted)"
    /// The shortest word checked: `switchboard serve` refuses shorter tokens, and `keys add` makes 43 characters.
    static let minimumLength = 16

    /// The shortest part of a known key that is taken out where the rest of it is not (`nosuch(abcdefgh`,
    /// where the parser cut `/nosuch(abcdefgh-ijk…)` at the `-` of a view).
    static let minimumFragmentLength = 8

    /// The text with every key in it replaced.
    func redact(_ text: String) -> String { redact(text, fragmentsOf: []).text }

    /// The text with every key in it replaced, and every part of at least ``minimumFragmentLength`` characters
    /// of `known` keys (found earlier in the same request or connection: an answer quotes a piece of what it
    /// was sent); and the keys it found.
    func redact(_ text: String, fragmentsOf known: [String]) -> (text: String, keys: [String]) {
        let bytes = Array(text.utf8)
        guard bytes.count >= (known.isEmpty ? Self.minimumLength : Self.minimumFragmentLength) else { return (text, []) }
        let knownBytes = known.map { Array($0.utf8) }
        var found: [Range<Int>] = []
        var start = 0
        while start < bytes.count {
            guard Self.mayBeInKey(bytes[start]) else {
                start += 1
                continue
            }
            var end = start
            while end < bytes.count, Self.mayBeInKey(bytes[end]) { end += 1 }
            let before = found.count
            if end - start >= Self.minimumLength { keys(in: bytes, start..<end, into: &found) }
            if found.count == before, !knownBytes.isEmpty { fragments(of: knownBytes, in: bytes, start..<end, into: &found) }
            start = end
        }
        guard !found.isEmpty else { return (text, []) }
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count)
        var keys: [String] = []
        var position = 0
        for range in found {
            result.append(contentsOf: bytes[position..<range.lowerBound])
            result.append(contentsOf: Self.replacement.utf8)
            if range.count >= Self.minimumLength { keys.append(String(decoding: bytes[range], as: UTF8.self)) }
            position = range.upperBound
        }
        result.append(contentsOf: bytes[position...])
        return (String(decoding: result, as: UTF8.self), keys)
    }

    /// The parts of a run of key characters that are parts of known keys, longest first from each position.
    private func fragments(of known: [[UInt8]], in bytes: [UInt8], _ run: Range<Int>, into found: inout [Range<Int>]) {
        var index = run.lowerBound
        while index + Self.minimumFragmentLength <= run.upperBound {
            var longest = 0
            for key in known {
                for keyStart in key.indices where key[keyStart] == bytes[index] {
                    var length = 0
                    while index + length < run.upperBound, keyStart + length < key.count, bytes[index + length] == key[keyStart + length] {
                        length += 1
                    }
                    longest = max(longest, length)
                }
            }
            if longest >= Self.minimumFragmentLength {
                found.append(index..<index + longest)
                index += longest
            } else {
                index += 1
            }
        }
    }

    /// The text cut at a character's start within `limit` bytes, and before the word (up to a space or a URI's
    /// delimiter) the cut falls in: its first part could be the start of a key, too short to be known as one. Cut before redacting, so that
    /// redacting costs in proportion to what is kept.
    static func prefix(of text: String, bytes limit: Int) -> String {
        let bytes = text.utf8
        guard bytes.count > limit else { return text }
        var end = bytes.index(bytes.startIndex, offsetBy: limit)
        while end > bytes.startIndex && UTF8.isContinuation(bytes[end]) { end = bytes.index(before: end) }
        // A word here ends at a URI's delimiters too: a URI is one run of key characters.
        func inWord(_ byte: UInt8) -> Bool { mayBeInKey(byte) && !isDelimiter(byte) }
        if inWord(bytes[end]) {
            while end > bytes.startIndex && inWord(bytes[bytes.index(before: end)]) { end = bytes.index(before: end) }
        }
        return String(text[..<end])
    }

    /// Every string in the value with every key in it replaced.
    func redact(_ json: JSON) -> JSON {
        switch json {
        case .string(let text): .string(redact(text))
        case .array(let values): .array(values.map(redact))
        case .object(let object): .object(JSONObject(object.members.map { name, value in (name, redact(value)) }))
        default: json
        }
    }

    /// The keys in one run of key characters: the run itself, or the values of its assignments (after a `=`,
    /// up to the next `/`, `?`, `&`, `#` or `:`, so that a key may end in `=`) and the pieces between its
    /// delimiters.
    private func keys(in bytes: [UInt8], _ run: Range<Int>, into found: inout [Range<Int>]) {
        if isKey(bytes, run) {
            found.append(run)
            return
        }
        var candidates: [Range<Int>] = []
        var pieceStart = run.lowerBound
        var assignmentValue: Int?
        for index in run where Self.isDelimiter(bytes[index]) {
            if bytes[index] == UInt8(ascii: "=") {
                if assignmentValue == nil { assignmentValue = index + 1 }
            } else if let value = assignmentValue {
                candidates.append(value..<index)
                assignmentValue = nil
            }
            candidates.append(pieceStart..<index)
            pieceStart = index + 1
        }
        if let value = assignmentValue { candidates.append(value..<run.upperBound) }
        candidates.append(pieceStart..<run.upperBound)
        var end = run.lowerBound
        for candidate in candidates.sorted(by: { $0.lowerBound < $1.lowerBound }) where candidate.lowerBound >= end {
            if isKey(bytes, candidate) {
                found.append(candidate)
                end = candidate.upperBound
            }
        }
    }

    private func isKey(_ bytes: [UInt8], _ range: Range<Int>) -> Bool {
        range.count >= Self.minimumLength && authenticator.isKey(String(decoding: bytes[range], as: UTF8.self))
    }

    /// Printable ASCII but for parentheses, commas, semicolons and quotes, which no key holds.
    static func mayBeInKey(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "\""), UInt8(ascii: "'"): false
        default: byte > 0x20 && byte < 0x7F
        }
    }

    static func isDelimiter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "/"), UInt8(ascii: "?"), UInt8(ascii: "&"), UInt8(ascii: "#"), UInt8(ascii: "="), UInt8(ascii: ":"): true
        default: false
        }
    }
}
