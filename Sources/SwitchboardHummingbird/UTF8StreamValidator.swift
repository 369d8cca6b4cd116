import SwitchboardCore

/// Checks UTF-8 that arrives in pieces: each piece is accepted while the bytes so far can still be the start of
/// valid UTF-8, so a fragmented text message is refused at the fragment that makes it invalid.
///
/// The rules are the Unicode Standard's well-formed byte sequences (Table 3-7): no overlong forms, no
/// surrogates, nothing above U+10FFFF. A piece may end in the middle of a character; the next piece goes on
/// with it, and ``endsOnCharacterBoundary`` says whether the last piece finished it.
struct UTF8StreamValidator {
    /// The bytes still expected to finish the character in progress (0 between characters, -1 once invalid).
    private var remaining = 0
    /// The range the next byte must fall in; narrower than `0x80...0xBF` right after `E0`, `ED`, `F0` and `F4`.
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF

    /// Whether every piece so far ended at the end of a character.
    var endsOnCharacterBoundary: Bool { remaining == 0 }

    /// Takes the next piece; `false` once the bytes so far can no longer be valid UTF-8 (and from then on).
    mutating func accept(_ bytes: some Sequence<UInt8>) -> Bool {
        guard remaining >= 0 else { return false }
        for byte in bytes {
            if remaining > 0 {
                guard byte >= lower, byte <= upper else { return refuse() }
                remaining -= 1
                (lower, upper) = (0x80, 0xBF)
                continue
            }
            if byte < 0x80 { continue }
            guard let (length, second) = UTF8Lead.sequence(startingWith: byte) else { return refuse() }
            (remaining, lower, upper) = (length - 1, second.lowerBound, second.upperBound)
        }
        return true
    }

    /// Marks the bytes as invalid for good.
    private mutating func refuse() -> Bool {
        remaining = -1
        return false
    }
}
