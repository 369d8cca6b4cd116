/// The Unicode Standard's rule for a UTF-8 sequence by its first byte (Table 3-7).
package enum UTF8Lead {
    /// For a lead byte above 0x7F: the sequence's length in bytes and the range its second byte must fall in
    /// (`0x80...0xBF`, narrower after `E0`, `ED`, `F0` and `F4`, which rules out overlong forms, surrogates and
    /// anything above U+10FFFF); the bytes after the second are `0x80...0xBF`. `nil` for a byte that begins no
    /// sequence (a continuation byte, `C0`, `C1`, `F5` and above).
    package static func sequence(startingWith lead: UInt8) -> (length: Int, second: ClosedRange<UInt8>)? {
        switch lead {
        case 0xC2...0xDF: (2, 0x80...0xBF)
        case 0xE0: (3, 0xA0...0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: (3, 0x80...0xBF)
        case 0xED: (3, 0x80...0x9F)
        case 0xF0: (4, 0x90...0xBF)
        case 0xF1...0xF3: (4, 0x80...0xBF)
        case 0xF4: (4, 0x80...0x8F)
        default: nil
        }
    }
}
