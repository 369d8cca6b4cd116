// Text helpers the core shares: trimming, padding and squeezing the way request lines and headers need.

extension StringProtocol {
    /// The text without leading and trailing white space and newlines.
    func trimmingWhitespace() -> String {
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
