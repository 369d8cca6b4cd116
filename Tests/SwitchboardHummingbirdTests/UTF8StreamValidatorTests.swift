import Testing

@testable import SwitchboardHummingbird

struct UTF8StreamValidatorTests {
    /// The verdict on `bytes` cut at `cut`: whether each piece was accepted, and the end.
    static func verdict(_ bytes: [UInt8], cutAt cut: Int) -> (first: Bool, second: Bool, valid: Bool) {
        var validator = UTF8StreamValidator()
        let first = validator.accept(bytes[..<cut])
        let second = validator.accept(bytes[cut...])
        return (first, second, first && second && validator.endsOnCharacterBoundary)
    }

    /// Bytes that sit at the edges of UTF-8's ranges, for the sequences too many to try whole.
    static let edges: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF]

    /// Every sequence of one and two bytes, and every three- and four-byte sequence of edge bytes, cut at every
    /// place: the end agrees with the standard library's validation, and valid text is never refused early.
    @Test func agreesWithTheStandardLibraryWhereverTheBytesAreCut() {
        var sequences: [[UInt8]] = (0...255).map { [UInt8($0)] }
        for a in 0...255 { for b in 0...255 { sequences.append([UInt8(a), UInt8(b)]) } }
        for a in Self.edges { for b in Self.edges { for c in Self.edges { sequences.append([a, b, c]) } } }
        for a in Self.edges { for b in Self.edges { for c in Self.edges { for d in Self.edges { sequences.append([a, b, c, d]) } } } }
        var disagreements: [[UInt8]] = []
        for bytes in sequences {
            let valid = String(validating: bytes, as: UTF8.self) != nil
            for cut in 0...bytes.count {
                let verdict = Self.verdict(bytes, cutAt: cut)
                if verdict.valid != valid || (valid && !verdict.first) { disagreements.append(bytes) }
            }
        }
        #expect(disagreements.isEmpty, "first: \(disagreements.prefix(5))")
    }

    /// A piece is refused as soon as no text can start with the bytes so far, even in the middle of a character.
    @Test func refusesAtTheFirstByteNoTextCanHave() {
        for (bytes, cut) in [
            ([0x61, 0xF4, 0x90, 0x80, 0x80], 3),  // above U+10FFFF, known at 0x90
            ([0x61, 0xED, 0xA0, 0x80], 3),  // a surrogate, known at 0xA0
            ([0x61, 0xE0, 0x80, 0x80], 3),  // overlong, known at the second byte
            ([0xC0, 0x80], 1), ([0xF5], 1), ([0x80], 1),
        ] as [([UInt8], Int)] {
            #expect(!Self.verdict(bytes, cutAt: cut).first, "\(bytes)")
        }
        var validator = UTF8StreamValidator()
        var accepted = [[0xCE, 0xBA, 0xE1], [0xBD, 0xB9], [0xFF], [0x61]].map { validator.accept($0 as [UInt8]) }
        #expect(accepted == [true, true, false, false])  // "κ" and the start of "ό", its end, a byte no text has; then refused for good
        #expect(!validator.endsOnCharacterBoundary)
        validator = UTF8StreamValidator()
        accepted = [[0xCE, 0xBA, 0xE1], [0xBD, 0xB9]].map { validator.accept($0 as [UInt8]) }
        #expect(accepted == [true, true] && validator.endsOnCharacterBoundary)
        validator = UTF8StreamValidator()
        #expect(validator.accept([0xCE, 0xBA, 0xE1] as [UInt8]) && !validator.endsOnCharacterBoundary)
    }
}
