// Text helpers the core shares: trimming, padding and squeezing the way request lines and headers need.

extension StringProtocol {
    /// The text without leading and trailing white space and newlines.
    package func trimmingWhitespace() -> String {
        // Text that begins and ends with a printable ASCII character (a typed command) is trimmed already:
        // whether a character is white space depends on its first scalar, and a printable ASCII character
        // never joins a white-space one before it into one character.
        let text = String(self)
        if let first = text.utf8.first, let last = text.utf8.last, (0x21...0x7E).contains(first), (0x21...0x7E).contains(last) {
            return text
        }
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return String(self[first...last])
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
