import NIOCore

/// Prints JSON into bytes.
///
/// Every piece is copied into one growing buffer of the writer's own: a capacity check and a copy, where
/// appending to an `Array` paid for the array's generic bookkeeping on every piece (a Shell page of ten
/// entities is some 200 pieces). Strings are scanned eight bytes at a time for what needs an escape, and the
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

    /// Appends valid UTF-8 as a JSON string (see ``JSONEscaping/forEachRun(in:_:)``).
    mutating func writeQuoted(_ source: UnsafeRawBufferPointer) {
        reserve(source.count + 2)
        append(UInt8(ascii: "\""))
        JSONEscaping.forEachRun(in: source) { run, byteToEscape in
            append(run)
            if let byteToEscape { escape(byteToEscape) }
        }
        append(UInt8(ascii: "\""))
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

    /// The escape of an ASCII byte that ``JSONEscaping/needsEscape(_:)``.
    private mutating func escape(_ byte: UInt8) {
        switch byte {
        case 0x22: append("\\\"")
        case 0x5C: append("\\\\")
        case 0x0A: append("\\n")
        case 0x0D: append("\\r")
        case 0x09: append("\\t")
        case 0x08: append("\\b")
        case 0x0C: append("\\f")
        default:
            let hex: StaticString = "0123456789abcdef"
            append("\\u00")
            append(hex.utf8Start[Int(byte >> 4)])
            append(hex.utf8Start[Int(byte & 0x0F)])
        }
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

    /// Calls `body` with each run of `source` that needs no escape, in order, and the byte after it that does
    /// (`nil` after the last run). The scan looks at sixteen bytes at a time (one vector compare each) and,
    /// in a block that holds bytes to escape, goes straight from one to the next by the compare's mask; the
    /// last fifteen bytes or fewer are looked at eight at a time, then one by one where a word may hold one.
    /// Text is mostly runs of plain characters, and terminal output has a line end every few dozen bytes.
    @inlinable
    package static func forEachRun(
        in source: UnsafeRawBufferPointer, _ body: (_ run: UnsafeRawBufferPointer, _ byteToEscape: UInt8?) -> Void
    ) {
        var run = 0
        var index = 0
        while index + 16 <= source.count {
            let (low, high) = escapeMask(source.loadUnaligned(fromByteOffset: index, as: SIMD16<UInt8>.self))
            var marks = low
            var half = index
            while true {
                while marks != 0 {
                    let at = half + marks.trailingZeroBitCount / 8
                    body(UnsafeRawBufferPointer(rebasing: source[run..<at]), source[at])
                    run = at + 1
                    marks &= marks &- 1
                }
                guard half == index, high != 0 else { break }
                marks = high
                half = index + 8
            }
            index += 16
        }
        while index < source.count {
            if index + 8 <= source.count, !mayNeedEscape(source.loadUnaligned(fromByteOffset: index, as: UInt64.self)) {
                index += 8
                continue
            }
            let end = min(index + 8, source.count)
            while index < end {
                let byte = source[index]
                if needsEscape(byte) {
                    body(UnsafeRawBufferPointer(rebasing: source[run..<index]), byte)
                    run = index + 1
                }
                index += 1
            }
        }
        body(UnsafeRawBufferPointer(rebasing: source[run...]), nil)
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
