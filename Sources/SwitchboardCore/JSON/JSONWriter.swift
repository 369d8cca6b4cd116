import NIOCore

/// Prints JSON into bytes.
///
/// Every piece is copied into one growing buffer of the writer's own: a capacity check and a copy, where
/// appending to an `Array` paid for the array's generic bookkeeping on every piece (a Shell page of ten
/// entities is some 200 pieces). Strings are escaped sixteen bytes at a time straight into it, and the
/// array is made once, by ``finish()``.
struct JSONWriter: ~Copyable {
    private var start: UnsafeMutableRawPointer
    private var capacity: Int
    private var count = 0
    let pretty: Bool

    /// A writer whose buffer starts with room for `capacity` bytes and doubles when it is full.
    init(pretty: Bool, capacity: Int = 1024) {
        self.pretty = pretty
        self.capacity = max(capacity, 16)
        start = .allocate(byteCount: self.capacity, alignment: 1)
    }

    deinit { start.deallocate() }

    /// The bytes written.
    consuming func finish() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(start: start, count: count))
            initialized = count
        }
    }

    /// The bytes written, in a buffer of their size (what a transport sends: no array made on the way).
    consuming func finishBuffer() -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: count)
        buffer.writeBytes(UnsafeRawBufferPointer(start: start, count: count))
        return buffer
    }

    /// Writes `value`, whose first line starts at the current position and whose other lines are indented by
    /// `indent` levels. An object that keeps its printed form (``JSONObject/keepingPrintedForm()``) is copied
    /// from it when printing pretty.
    mutating func write(_ value: JSON, indent: Int) {
        switch value {
        case .null: append("null")
        case .bool(let value): append(value ? "true" : "false")
        case .int(let value): write(value)
        case .double(let value):
            if !value.isFinite {
                append("null")
            } else if value == value.rounded(), abs(value) < 1e15 {
                write(Int(value))
            } else if let thousandths = Self.thousandths(value) {
                writeThousandths(thousandths)
            } else {
                var text = value.description
                text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
            }
        case .string(let value): writeQuoted(value)
        case .array(let elements):
            guard !elements.isEmpty else { return append("[]") }
            append(UInt8(ascii: "["))
            var first = true
            for element in elements {
                if !first { append(UInt8(ascii: ",")) }
                first = false
                if pretty { newline(indent + 1) }
                write(element, indent: indent + 1)
            }
            if pretty { newline(indent) }
            append(UInt8(ascii: "]"))
        case .object(let object):
            if pretty, let printed = object.printed { return append(printed, indent: indent) }
            guard !object.isEmpty else { return append("{}") }
            append(UInt8(ascii: "{"))
            var first = true
            for member in object.members {
                if !first { append(UInt8(ascii: ",")) }
                first = false
                if pretty { newline(indent + 1) }
                writeQuoted(member.key)
                append(pretty ? ": " : ":")
                write(member.value, indent: indent + 1)
            }
            if pretty { newline(indent) }
            append(UInt8(ascii: "}"))
        }
    }

    /// Starts a member of an object whose `{` is written, at depth `indent`: the comma before it (unless it is the
    /// first), the line break (when pretty), then `"key": `. For an object written member by member, with no
    /// `JSONObject` made for it; `key` is written as it is, so it must need no escape.
    mutating func beginMember(_ key: StaticString, indent: Int, first: Bool) {
        if !first { append(UInt8(ascii: ",")) }
        if pretty { newline(indent + 1) }
        append(UInt8(ascii: "\""))
        append(key)
        append(pretty ? "\": " : "\":")
    }

    /// Ends an object written member by member at depth `indent` (see ``beginMember(_:indent:first:)``).
    mutating func endObject(indent: Int) {
        if pretty { newline(indent) }
        append(UInt8(ascii: "}"))
    }

    /// Copies an object's printed form to depth `indent`: in one copy at the depth it was printed at, else line
    /// by line, each line after the first gaining or losing two spaces per level of difference.
    private mutating func append(_ printed: PrintedJSON, indent: Int) {
        let shift = 2 * (indent - PrintedJSON.depth)
        reserve(printed.bytes.count + printed.lineFeeds.count * max(shift, 0))
        let destination = start
        let written = printed.bytes.withUnsafeBytes { [count] bytes in
            guard let source = bytes.baseAddress else { return count }
            var position = count
            var lineStart = 0
            if shift != 0 {
                printed.lineFeeds.withUnsafeBufferPointer { lineFeeds in
                    for lineFeed in lineFeeds {
                        let length = lineFeed + 1 - lineStart
                        (destination + position).copyMemory(from: source + lineStart, byteCount: length)
                        position += length
                        if shift > 0 {
                            (destination + position).initializeMemory(as: UInt8.self, repeating: UInt8(ascii: " "), count: shift)
                            position += shift
                        }
                        // The next line's first `-shift` bytes are spaces of the deeper indent: skipped.
                        lineStart = lineFeed + 1 - min(shift, 0)
                    }
                }
            }
            (destination + position).copyMemory(from: source + lineStart, byteCount: bytes.count - lineStart)
            return position + bytes.count - lineStart
        }
        count = written
    }

    /// Appends `string` as a JSON string.
    mutating func writeQuoted(_ string: String) {
        let written: Void? = string.utf8.withContiguousStorageIfAvailable { writeQuoted(UnsafeRawBufferPointer($0)) }
        if written == nil {
            var copy = string
            copy.withUTF8 { writeQuoted(UnsafeRawBufferPointer($0)) }
        }
    }

    /// Appends valid UTF-8 as a JSON string (see ``JSONEscaping/escape(_:into:)``): escaped straight into the
    /// buffer, which grows only when escapes have used up the room left beyond the text.
    mutating func writeQuoted(_ source: UnsafeRawBufferPointer) {
        if source.count < 16 { return writeShortQuoted(source) }
        reserve(source.count + JSONEscaping.room + 2)
        append(UInt8(ascii: "\""))
        var read = 0
        while true {
            let (taken, written) = JSONEscaping.escape(
                UnsafeRawBufferPointer(rebasing: source[read...]), into: UnsafeMutableRawBufferPointer(start: start + count, count: capacity - count))
            read += taken
            count += written
            if read == source.count { break }
            reserve(source.count - read + JSONEscaping.room + 1)
        }
        append(UInt8(ascii: "\""))
    }

    /// A string of fewer than sixteen bytes (most names and values of an answer) as a JSON string, with room
    /// for the longest escape of each byte made at once: one copy when its two overlapping words need no
    /// escape, else byte by byte.
    private mutating func writeShortQuoted(_ source: UnsafeRawBufferPointer) {
        reserve(6 * source.count + 2)
        start.storeBytes(of: UInt8(ascii: "\""), toByteOffset: count, as: UInt8.self)
        count += 1
        if source.count >= 8, !JSONEscaping.mayNeedEscape(source.loadUnaligned(as: UInt64.self)),
            !JSONEscaping.mayNeedEscape(source.loadUnaligned(fromByteOffset: source.count - 8, as: UInt64.self))
        {
            (start + count).copyMemory(from: source.baseAddress!, byteCount: source.count)
            count += source.count
        } else {
            for byte in source {
                if JSONEscaping.needsEscape(byte) {
                    count += JSONEscaping.writeEscape(of: byte, to: start + count)
                } else {
                    start.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
                    count += 1
                }
            }
        }
        start.storeBytes(of: UInt8(ascii: "\""), toByteOffset: count, as: UInt8.self)
        count += 1
    }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        reserve(1)
        start.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    @inline(__always)
    private mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        reserve(bytes.count)
        (start + count).copyMemory(from: base, byteCount: bytes.count)
        count += bytes.count
    }

    @inline(__always)
    mutating func append(_ text: StaticString) {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    @inline(__always)
    private mutating func reserve(_ extra: Int) {
        if capacity - count < extra { grow(toHold: count + extra) }
    }

    private mutating func grow(toHold needed: Int) {
        let larger = max(capacity * 2, needed)
        let moved = UnsafeMutableRawPointer.allocate(byteCount: larger, alignment: 1)
        moved.copyMemory(from: start, byteCount: count)
        start.deallocate()
        start = moved
        capacity = larger
    }

    /// An integer in decimal, its digits written in place.
    private mutating func write(_ value: Int) {
        reserve(21)  // a sign and the 20 digits of UInt64.max
        if value < 0 { append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits = 1
        var rest = magnitude / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        var position = count + digits
        repeat {
            position -= 1
            start.storeBytes(of: UInt8(ascii: "0") + UInt8(magnitude % 10), toByteOffset: position, as: UInt8.self)
            magnitude /= 10
        } while magnitude > 0
        count += digits
    }

    /// `value` as a whole number of thousandths, when it is the double nearest to one and below a billion
    /// (every elapsed time is rounded to microseconds): then its shortest form, the one `description` prints,
    /// is that decimal, at most twelve digits, which no other double of twelve digits shares.
    static func thousandths(_ value: Double) -> Int? {
        guard abs(value) < 1e9 else { return nil }
        let scaled = (value * 1000).rounded()
        return scaled / 1000 == value ? Int(scaled) : nil
    }

    /// A number of thousandths that is not whole, as `description` prints it: `0.012`, `-3.5`.
    private mutating func writeThousandths(_ thousandths: Int) {
        if thousandths < 0 { append(UInt8(ascii: "-")) }
        let magnitude = thousandths.magnitude
        write(Int(magnitude / 1000))
        var fraction = Int(magnitude % 1000)
        var digits = 3
        while fraction != 0, fraction % 10 == 0 {
            fraction /= 10
            digits -= 1
        }
        reserve(1 + digits)
        start.storeBytes(of: UInt8(ascii: "."), toByteOffset: count, as: UInt8.self)
        var position = count + digits
        for _ in 0..<digits {
            start.storeBytes(of: UInt8(ascii: "0") + UInt8(fraction % 10), toByteOffset: position, as: UInt8.self)
            fraction /= 10
            position -= 1
        }
        count += 1 + digits
    }

    private mutating func newline(_ indent: Int) {
        reserve(1 + 2 * indent)
        start.storeBytes(of: UInt8(ascii: "\n"), toByteOffset: count, as: UInt8.self)
        (start + count + 1).initializeMemory(as: UInt8.self, repeating: UInt8(ascii: " "), count: 2 * indent)
        count += 1 + 2 * indent
    }
}

/// Which bytes of a JSON string Switchboard escapes: control characters (below 0x20 and DEL, so that no JSON
/// it prints can move a terminal's cursor), the quote and the backslash.
package enum JSONEscaping {
    /// Whether `byte` is written as an escape.
    @inlinable
    package static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == 0x22 || byte == 0x5C || byte == 0x7F
    }

    /// The room beyond its text that ``escape(_:into:)`` needs to take all of it: a block of sixteen bytes is
    /// copied whole before it is looked at, and an escape takes up to six bytes.
    package static let room = 22

    /// Copies valid UTF-8 into `destination` as the inside of a JSON string, for as long as `destination` has
    /// room; returns how many bytes of `source` it took and how many it wrote. It takes all of `source` when
    /// `destination` has ``room`` bytes more than `source` plus five for each escape, and at least one byte
    /// whenever `destination` has six; what it writes beyond `written` within `destination` is scratch.
    ///
    /// Sixteen bytes at a time are copied, then looked at with one vector compare: the copy stands when none
    /// needs an escape, up to the first that does otherwise, and the scan goes on after that byte's escape.
    /// The last fifteen bytes or fewer go eight at a time where a word needs no escape, else one by one.
    /// (Terminal output has a line end, two escapes, every few dozen bytes; most blocks have none.)
    @inlinable
    package static func escape(
        _ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer
    ) -> (taken: Int, written: Int) {
        guard let from = source.baseAddress, let to = destination.baseAddress else { return (0, 0) }
        let end = source.count
        let room = destination.count
        var read = 0
        var written = 0
        while read + 16 <= end, written + 16 <= room {
            let block = from.loadUnaligned(fromByteOffset: read, as: SIMD16<UInt8>.self)
            to.storeBytes(of: block, toByteOffset: written, as: SIMD16<UInt8>.self)
            let (low, high) = escapeMask(block)
            if low | high == 0 {
                read += 16
                written += 16
                continue
            }
            let plain = low != 0 ? low.trailingZeroBitCount / 8 : 8 + high.trailingZeroBitCount / 8
            read += plain
            written += plain
            // This escape and those right after it (the `\n` of a `\r\n`): the next block starts after them.
            repeat {
                guard written + 6 <= room else { return (read, written) }
                written += writeEscape(of: from.load(fromByteOffset: read, as: UInt8.self), to: to + written)
                read += 1
            } while read < end && needsEscape(from.load(fromByteOffset: read, as: UInt8.self))
        }
        // Fewer than sixteen bytes left, or little room: the rest, or as much as fits.
        while read < end {
            if read + 8 <= end, written + 8 <= room {
                let word = from.loadUnaligned(fromByteOffset: read, as: UInt64.self)
                if !mayNeedEscape(word) {
                    to.storeBytes(of: word, toByteOffset: written, as: UInt64.self)
                    read += 8
                    written += 8
                    continue
                }
            }
            let byte = from.load(fromByteOffset: read, as: UInt8.self)
            if needsEscape(byte) {
                guard written + 6 <= room else { break }
                written += writeEscape(of: byte, to: to + written)
            } else {
                guard written < room else { break }
                to.storeBytes(of: byte, toByteOffset: written, as: UInt8.self)
                written += 1
            }
            read += 1
        }
        return (read, written)
    }

    /// Writes the escape of a byte that ``needsEscape(_:)`` (`\n`, `\"`, `\u001b`, …) and returns its length,
    /// two or six. No `switch` on the byte: it compiled to a jump through a table, taken in turn for the `\r` and
    /// the `\n` of every line end and mispredicted nearly every time.
    @inlinable
    static func writeEscape(of byte: UInt8, to destination: UnsafeMutableRawPointer) -> Int {
        // The letter after the backslash: the byte itself for `"` and `\`, from "btn0fr" for 0x08–0x0D, else
        // "0", for `\u00XX`. Branches that go the same way for the `\r` and the `\n` of a line end.
        let letters: StaticString = "btn0fr"
        let letter: UInt8
        if byte == 0x22 || byte == 0x5C {
            letter = byte
        } else if byte &- 8 < 6 {
            letter = letters.utf8Start[Int(byte &- 8)]
        } else {
            letter = UInt8(ascii: "0")
        }
        if letter != UInt8(ascii: "0") {
            destination.storeBytes(of: (UInt16(letter) << 8 | UInt16(UInt8(ascii: "\\"))).littleEndian, as: UInt16.self)
            return 2
        }
        let hex: StaticString = "0123456789abcdef"
        destination.storeBytes(of: UInt8(ascii: "\\"), as: UInt8.self)
        destination.storeBytes(of: UInt8(ascii: "u"), toByteOffset: 1, as: UInt8.self)
        destination.storeBytes(of: UInt8(ascii: "0"), toByteOffset: 2, as: UInt8.self)
        destination.storeBytes(of: UInt8(ascii: "0"), toByteOffset: 3, as: UInt8.self)
        destination.storeBytes(of: hex.utf8Start[Int(byte >> 4)], toByteOffset: 4, as: UInt8.self)
        destination.storeBytes(of: hex.utf8Start[Int(byte & 0x0F)], toByteOffset: 5, as: UInt8.self)
        return 6
    }

    /// Which of the sixteen bytes of `block` need an escape, as two words (bytes 0–7 and 8–15) with the high
    /// bit of byte *i* of a word set for each such byte *i*, so that `trailingZeroBitCount / 8` is the first
    /// one's place and `marks &= marks &- 1` drops it. Written so that it compiles to a few vector
    /// instructions: each comparison against a whole vector (one against a scalar is a loop over the lanes).
    @inlinable @inline(__always)
    static func escapeMask(_ block: SIMD16<UInt8>) -> (low: UInt64, high: UInt64) {
        let mask =
            (block .< SIMD16<UInt8>(repeating: 0x20)) .| (block .== SIMD16<UInt8>(repeating: 0x22))
            .| (block .== SIMD16<UInt8>(repeating: 0x5C)) .| (block .== SIMD16<UInt8>(repeating: 0x7F))
        let lanes = unsafeBitCast(mask, to: SIMD2<UInt64>.self)
        // A lane of the mask is all ones where the byte matched; its memory order is the bytes' order.
        let highBits: UInt64 = 0x8080_8080_8080_8080
        return (UInt64(littleEndian: lanes[0]) & highBits, UInt64(littleEndian: lanes[1]) & highBits)
    }

    /// Whether any of the eight bytes of `word` may need an escape: never `false` when one does (bytes of 0x80
    /// and above never do), sometimes `true` when none does.
    @inlinable @inline(__always)
    static func mayNeedEscape(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let below = (word &- ones &* 0x20) & ~word & 0x8080_8080_8080_8080
        let quote = zeroByte(in: word ^ (ones &* 0x22))
        let backslash = zeroByte(in: word ^ (ones &* 0x5C))
        let delete = zeroByte(in: word ^ (ones &* 0x7F))
        return (below | quote | backslash | delete) != 0
    }

    /// The high bit of a byte is set for each byte of `word` that is zero (and may be for a byte above one).
    @inlinable @inline(__always)
    static func zeroByte(in word: UInt64) -> UInt64 {
        (word &- 0x0101_0101_0101_0101) & ~word & 0x8080_8080_8080_8080
    }
}
