// Text helpers the core shares: trimming, padding and squeezing the way request lines and headers need.

extension Substring {
    /// The text without leading and trailing white space and newlines.
    package func trimmingWhitespace() -> String {
        // ASCII white space at either end is cut as bytes, as long as the byte next to it is ASCII as well:
        // an ASCII character never joins a white-space character before it into one character, and neither
        // does an ASCII white-space byte join the ASCII character before it (CR LF are both white space).
        // Next to any other byte (a combining mark, a prepended character) characters are looked at.
        let bytes = utf8
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, isASCIIWhitespace(bytes[start]) { start = bytes.index(after: start) }
        while start < end, isASCIIWhitespace(bytes[bytes.index(before: end)]) { end = bytes.index(before: end) }
        if start == end { return "" }
        if bytes[start] < 0x80, bytes[bytes.index(before: end)] < 0x80 { return String(self[start..<end]) }
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return String(self[first...last])
    }
}

extension String {
    /// The text without leading and trailing white space and newlines; the text itself when it has none (no
    /// copy).
    package func trimmingWhitespace() -> String {
        if let first = utf8.first, let last = utf8.last, first < 0x80, last < 0x80, !isASCIIWhitespace(first),
            !isASCIIWhitespace(last)
        {
            return self
        }
        return self[...].trimmingWhitespace()
    }
}

/// Whether a byte is ASCII white space: space, tab, line feed, vertical tab, form feed or carriage return.
private func isASCIIWhitespace(_ byte: UInt8) -> Bool {
    byte == 0x20 || (0x09...0x0D).contains(byte)
}

extension String {
    /// The text up to its first white-space character, and the rest from there (empty, or starting with white
    /// space): `"GET /x"` → `("GET", " /x")`. Cut as bytes while the word is ASCII: an ASCII character never
    /// joins the white space after it into one character. Characters are looked at from the first byte that
    /// is not ASCII.
    package func splitAtFirstWhitespace() -> (word: Substring, rest: Substring) {
        // Found in the contiguous bytes, then made an index once.
        let found = utf8.withContiguousStorageIfAvailable { bytes -> Int? in
            for (offset, byte) in bytes.enumerated() {
                if byte >= 0x80 { return nil }
                if isASCIIWhitespace(byte) { return offset }
            }
            return bytes.count
        }
        if let offset = found.flatMap({ $0 }) {
            let index = utf8.index(startIndex, offsetBy: offset)
            return (self[..<index], self[index...])
        }
        let bytes = utf8
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte >= 0x80 {
                let end = firstIndex(where: \.isWhitespace) ?? endIndex
                return (self[..<end], self[end...])
            }
            if isASCIIWhitespace(byte) { return (self[..<index], self[index...]) }
            index = bytes.index(after: index)
        }
        return (self[...], self[endIndex...])
    }

    /// Whether the text holds a white-space character. Looked for among the bytes while they are ASCII (an
    /// ASCII string's characters are its bytes, but for CR LF, which is white space either way); by
    /// characters once a byte is not.
    package var containsWhitespace: Bool {
        var found = false
        for byte in utf8 {
            if byte >= 0x80 { return contains(where: \.isWhitespace) }
            if isASCIIWhitespace(byte) { found = true }
        }
        return found
    }
}

extension String {
    /// The text padded on the left to `width` characters (`7` → `007`).
    func leftPadded(_ width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}

extension String {
    /// The text without spaces.
    func replacingSpaces() -> String { String(filter { $0 != " " }) }
}

extension String {
    /// The pieces one after another, copied into one string made at its full size: cheaper than appending
    /// them one by one, which looks at how characters meet at every append (a status line for every answer).
    package init(concatenating pieces: String...) {
        var count = 0
        for piece in pieces { count += piece.utf8.count }
        self.init(unsafeUninitializedCapacity: count) { buffer in
            var offset = 0
            for piece in pieces {
                let copied = piece.utf8.withContiguousStorageIfAvailable { bytes in
                    _ = UnsafeMutableBufferPointer(rebasing: buffer[offset..<offset + bytes.count]).initialize(from: bytes)
                    return bytes.count
                }
                if let copied {
                    offset += copied
                } else {
                    for byte in piece.utf8 {
                        buffer[offset] = byte
                        offset += 1
                    }
                }
            }
            return offset
        }
    }
}

extension UnsafeRawBufferPointer {
    /// Whether the bytes are well-formed UTF-8 that ends with a whole character, checked without making a
    /// string (`String(validating:)` copies them into one): ASCII sixteen bytes at a time, each longer sequence
    /// by its lead byte's rule (``UTF8Lead``). A scan that meets a byte above ASCII goes straight to it (its
    /// lowest high bit), so the ASCII before it is not looked at again byte by byte: in prose with a dash or
    /// an accent every few hundred bytes, that was most of the work.
    package var isValidUTF8: Bool {
        var index = 0
        while index < count {
            while index + 16 <= count {
                let first = UInt64(littleEndian: loadUnaligned(fromByteOffset: index, as: UInt64.self)) & 0x8080_8080_8080_8080
                let second = UInt64(littleEndian: loadUnaligned(fromByteOffset: index + 8, as: UInt64.self)) & 0x8080_8080_8080_8080
                if first != 0 {
                    index += first.trailingZeroBitCount >> 3
                    break
                }
                if second != 0 {
                    index += 8 + (second.trailingZeroBitCount >> 3)
                    break
                }
                index += 16
            }
            guard index < count else { return true }
            let lead = self[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            guard let (length, second) = UTF8Lead.sequence(startingWith: lead), index + length <= count,
                second.contains(self[index + 1])
            else { return false }
            for offset in 2..<length where self[index + offset] & 0xC0 != 0x80 { return false }
            index += length
        }
        return true
    }

    /// Whether every byte is below 0x80, sixteen at a time.
    package var isASCII: Bool {
        var index = 0
        while index + 16 <= count {
            let pair = loadUnaligned(fromByteOffset: index, as: UInt64.self) | loadUnaligned(fromByteOffset: index + 8, as: UInt64.self)
            if pair & 0x8080_8080_8080_8080 != 0 { return false }
            index += 16
        }
        while index < count {
            if self[index] >= 0x80 { return false }
            index += 1
        }
        return true
    }
}

extension String {
    /// The text of `bytes` if they are valid UTF-8, otherwise `nil`. ASCII, nearly every message a client
    /// types, is recognised sixteen bytes at a time and copied, without the generic validation's cost (about
    /// a thousand instructions for a short message).
    package init?(validatingUTF8 bytes: UnsafeRawBufferPointer) {
        if bytes.isASCII {
            self.init(decoding: bytes, as: UTF8.self)
        } else if let text = String(validating: bytes, as: UTF8.self) {
            self = text
        } else {
            return nil
        }
    }
}
