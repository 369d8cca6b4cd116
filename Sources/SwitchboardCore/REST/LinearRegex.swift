import HTTPTypes

/// A regular expression matched in time linear in the text (a Pike VM over a compiled NFA), for
/// `search_regex`: no pattern can make a search backtrack without end, and a long one stops at the query's
/// deadline.
///
/// Syntax: literals; `.`; classes `[a-z0-9_]`, `[^…]`; `\d \w \s \D \W \S`; escapes `\.` `\\` `\(` and the
/// like, `\t \n \r`; anchors `^` and `$`; groups `( )` and `(?: )`; alternation `|`; quantifiers `*`, `+`,
/// `?`, `{n}`, `{n,}`, `{n,m}`, word boundaries `\b \B` (lazy forms accepted, same result: only whether it matches counts). Matching
/// ignores case. Back-references and look-around are refused: they are what needs backtracking.
struct LinearRegex: Sendable, Equatable {
    /// The pattern as written.
    let pattern: String
    private let program: [Instruction]
    private let classes: [CharacterClass]

    static let maxPatternLength = 256
    static let maxProgramSize = 2_000

    enum Instruction: Sendable, Equatable {
        case character(Int)
        case split(Int, Int)
        case jump(Int)
        case start
        case end
        /// `\b` (or `\B` when `false`): between a word character and another.
        case wordBoundary(Bool)
        case match
    }

    /// Parses and compiles a pattern.
    /// - Throws: A `400` that says what is wrong and where.
    init(_ pattern: String) throws(SwitchboardError) {
        guard pattern.unicodeScalars.count <= Self.maxPatternLength else {
            throw Self.error(pattern, "it is longer than \(Self.maxPatternLength) characters")
        }
        var parser = Parser(scalars: Array(pattern.unicodeScalars), pattern: pattern)
        let tree = try parser.parseAll()
        var compiler = Compiler()
        try compiler.emit(tree, pattern: pattern)
        compiler.program.append(.match)
        self.pattern = pattern
        self.program = compiler.program
        self.classes = compiler.classes
    }

    static func error(_ pattern: String, _ problem: String) -> SwitchboardError {
        SwitchboardError(
            .badRequest, code: .invalidMetaCondition,
            "Invalid regular expression '\(SwitchboardError.excerpt(pattern))' in search_regex: \(problem)")
    }

    static func == (lhs: LinearRegex, rhs: LinearRegex) -> Bool { lhs.pattern == rhs.pattern }

    // MARK: Matching

    /// Whether the pattern matches anywhere in the text, ignoring case. Checks the task's cancellation and the
    /// query's deadline every few thousand steps.
    func matches(_ text: String) throws -> Bool {
        let input = Array(text.lowercased().unicodeScalars)
        var current = ThreadList(capacity: program.count)
        var next = ThreadList(capacity: program.count)
        var steps = 0
        for position in 0...input.count {
            // Unanchored: a new thread starts at every position.
            addThread(0, at: position, in: input, to: &current)
            if current.containsMatch { return true }
            guard position < input.count else { return false }
            guard !current.isEmpty else {
                current.clear()
                continue
            }
            let scalar = input[position]
            next.clear()
            for pc in current.threads {
                steps += 1
                if steps % 4096 == 0 { try Self.checkDeadline() }
                guard case .character(let index) = program[pc], classes[index].contains(scalar) else { continue }
                addThread(pc + 1, at: position + 1, in: input, to: &next)
            }
            swap(&current, &next)
            if current.containsMatch { return true }
        }
        return false
    }

    private static func checkDeadline() throws {
        try Task.checkCancellation()
        if let deadline = QueryDeadline.current, ContinuousClock.now >= deadline.instant { throw deadline.expired }
    }

    /// Adds a thread and everything reachable from it without reading a character.
    private func addThread(_ start: Int, at position: Int, in input: [Unicode.Scalar], to list: inout ThreadList) {
        let count = input.count
        var stack = [start]
        while let pc = stack.popLast() {
            guard list.mark(pc) else { continue }
            switch program[pc] {
            case .jump(let target): stack.append(target)
            case .split(let first, let second):
                stack.append(second)
                stack.append(first)
            case .start: if position == 0 { stack.append(pc + 1) }
            case .end: if position == count { stack.append(pc + 1) }
            case .wordBoundary(let wanted):
                let before = position > 0 && CharacterClass.shorthand("w", contains: input[position - 1])
                let after = position < count && CharacterClass.shorthand("w", contains: input[position])
                if (before != after) == wanted { stack.append(pc + 1) }
            case .match: list.containsMatch = true
            case .character: list.threads.append(pc)
            }
        }
    }

    /// The threads at one position, each program counter once.
    private struct ThreadList {
        var threads: [Int] = []
        var seen: [Bool]
        var containsMatch = false
        init(capacity: Int) { seen = Array(repeating: false, count: capacity) }
        var isEmpty: Bool { threads.isEmpty }
        mutating func mark(_ pc: Int) -> Bool {
            if seen[pc] { return false }
            seen[pc] = true
            return true
        }
        mutating func clear() {
            for index in seen.indices { seen[index] = false }
            threads.removeAll(keepingCapacity: true)
            containsMatch = false
        }
    }

    // MARK: Syntax

    indirect enum Node {
        case empty
        case character(CharacterClass)
        case start, end
        case wordBoundary(Bool)
        case sequence([Node])
        case alternatives([Node])
        case repeated(Node, min: Int, max: Int?)
    }

    struct CharacterClass: Sendable, Equatable {
        var ranges: [ClosedRange<UInt32>] = []
        var shorthands: [Unicode.Scalar] = []
        var negated = false
        var any = false

        func contains(_ scalar: Unicode.Scalar) -> Bool {
            if any { return scalar != "\n" }
            var found = ranges.contains { $0.contains(scalar.value) }
            if !found { found = shorthands.contains { Self.shorthand($0, contains: scalar) } }
            return found != negated
        }

        static func shorthand(_ letter: Unicode.Scalar, contains scalar: Unicode.Scalar) -> Bool {
            switch letter {
            case "d": scalar.properties.numericType == .decimal
            case "D": scalar.properties.numericType != .decimal
            case "w": scalar.properties.isAlphabetic || scalar.properties.numericType == .decimal || scalar == "_"
            case "W": !(scalar.properties.isAlphabetic || scalar.properties.numericType == .decimal || scalar == "_")
            case "s": scalar.properties.isWhitespace
            default: !scalar.properties.isWhitespace
            }
        }
    }

    struct Parser {
        let scalars: [Unicode.Scalar]
        let pattern: String
        var index = 0

        mutating func parseAll() throws(SwitchboardError) -> Node {
            let node = try parseAlternatives(depth: 0)
            if index < scalars.count { throw LinearRegex.error(pattern, "unmatched ')' at position \(index + 1)") }
            return node
        }

        mutating func parseAlternatives(depth: Int) throws(SwitchboardError) -> Node {
            guard depth < 32 else { throw LinearRegex.error(pattern, "groups are nested more than 32 deep") }
            var options = [try parseSequence(depth: depth)]
            while index < scalars.count, scalars[index] == "|" {
                index += 1
                options.append(try parseSequence(depth: depth))
            }
            return options.count == 1 ? options[0] : .alternatives(options)
        }

        mutating func parseSequence(depth: Int) throws(SwitchboardError) -> Node {
            var items: [Node] = []
            while index < scalars.count, scalars[index] != "|", scalars[index] != ")" {
                var atom = try parseAtom(depth: depth)
                while let (min, max) = try parseQuantifier() {
                    switch atom {
                    case .start, .end, .wordBoundary: throw LinearRegex.error(pattern, "a quantifier after an anchor")
                    default: break
                    }
                    atom = .repeated(atom, min: min, max: max)
                }
                items.append(atom)
            }
            return items.count == 1 ? items[0] : .sequence(items)
        }

        mutating func parseQuantifier() throws(SwitchboardError) -> (Int, Int?)? {
            guard index < scalars.count else { return nil }
            let quantifier: (Int, Int?)
            switch scalars[index] {
            case "*": quantifier = (0, nil); index += 1
            case "+": quantifier = (1, nil); index += 1
            case "?": quantifier = (0, 1); index += 1
            case "{":
                guard let bounds = try parseBounds() else { return nil }
                quantifier = bounds
            default: return nil
            }
            if index < scalars.count, scalars[index] == "?" { index += 1 }
            return quantifier
        }

        /// `{n}`, `{n,}` or `{n,m}`; a `{` that starts none of them is a literal.
        mutating func parseBounds() throws(SwitchboardError) -> (Int, Int?)? {
            var cursor = index + 1
            func number() -> Int? {
                var digits = ""
                while cursor < scalars.count, ("0"..."9").contains(scalars[cursor]) {
                    digits.unicodeScalars.append(scalars[cursor])
                    cursor += 1
                }
                return Int(digits)
            }
            guard let min = number() else { return nil }
            var max: Int? = min
            if cursor < scalars.count, scalars[cursor] == "," {
                cursor += 1
                max = number()
            }
            guard cursor < scalars.count, scalars[cursor] == "}" else { return nil }
            guard min <= 100, (max ?? min) <= 100, min <= (max ?? min) else {
                throw LinearRegex.error(pattern, "a repetition count above 100, or {n,m} with n > m")
            }
            index = cursor + 1
            return (min, max)
        }

        mutating func parseAtom(depth: Int) throws(SwitchboardError) -> Node {
            let scalar = scalars[index]
            index += 1
            switch scalar {
            case ".": return .character(CharacterClass(any: true))
            case "^": return .start
            case "$": return .end
            case "*", "+", "?": throw LinearRegex.error(pattern, "'\(scalar)' at position \(index) repeats nothing")
            case "(":
                if index + 1 < scalars.count, scalars[index] == "?" {
                    guard scalars[index + 1] == ":" else { throw LinearRegex.error(pattern, "look-around and other (? groups are not supported") }
                    index += 2
                }
                let inner = try parseAlternatives(depth: depth + 1)
                guard index < scalars.count, scalars[index] == ")" else { throw LinearRegex.error(pattern, "a '(' is not closed") }
                index += 1
                return inner
            case "[": return .character(try parseClass())
            case "\\" where index < scalars.count && (scalars[index] == "b" || scalars[index] == "B"):
                index += 1
                return .wordBoundary(scalars[index - 1] == "b")
            case "\\": return .character(try parseEscape(inClass: false))
            default:
                let folded = Self.folded(scalar)
                return .character(CharacterClass(ranges: [folded...folded]))
            }
        }

        /// The scalar as matching sees it: lowercase (the text is lowercased too).
        static func folded(_ scalar: Unicode.Scalar) -> UInt32 {
            String(scalar).lowercased().unicodeScalars.first?.value ?? scalar.value
        }

        mutating func parseEscape(inClass: Bool) throws(SwitchboardError) -> CharacterClass {
            guard index < scalars.count else { throw LinearRegex.error(pattern, "it ends with '\\'") }
            let scalar = scalars[index]
            index += 1
            switch scalar {
            case "d", "w", "s": return CharacterClass(shorthands: [scalar])
            case "D", "W", "S": return CharacterClass(shorthands: [scalar])
            case "t": return CharacterClass(ranges: [9...9])
            case "n": return CharacterClass(ranges: [10...10])
            case "r": return CharacterClass(ranges: [13...13])
            case "1"..."9": throw LinearRegex.error(pattern, "back-references are not supported")
            case "a"..."z", "A"..."Z", "0":
                throw LinearRegex.error(pattern, "'\\\(scalar)' is not an escape this search knows")
            default:
                let folded = Self.folded(scalar)
                return CharacterClass(ranges: [folded...folded])
            }
        }

        mutating func parseClass() throws(SwitchboardError) -> CharacterClass {
            var result = CharacterClass()
            if index < scalars.count, scalars[index] == "^" {
                result.negated = true
                index += 1
            }
            var first = true
            while true {
                guard index < scalars.count else { throw LinearRegex.error(pattern, "a '[' is not closed") }
                let scalar = scalars[index]
                if scalar == "]" && !first {
                    index += 1
                    return result
                }
                first = false
                index += 1
                var low: UInt32
                if scalar == "\\" {
                    let escaped = try parseEscape(inClass: true)
                    guard escaped.shorthands.isEmpty, let range = escaped.ranges.first else {
                        result.shorthands += escaped.shorthands
                        continue
                    }
                    low = range.lowerBound
                } else {
                    low = Self.folded(scalar)
                }
                if index + 1 < scalars.count, scalars[index] == "-", scalars[index + 1] != "]" {
                    let high = scalars[index + 1]
                    index += 2
                    let top = Self.folded(high)
                    guard high != "\\", top >= low else {
                        throw LinearRegex.error(pattern, "a range in [...] that runs backwards or ends in an escape")
                    }
                    result.ranges.append(low...top)
                } else {
                    result.ranges.append(low...low)
                }
            }
        }
    }

    struct Compiler {
        var program: [Instruction] = []
        var classes: [CharacterClass] = []

        mutating func emit(_ node: Node, pattern: String) throws(SwitchboardError) {
            guard program.count < LinearRegex.maxProgramSize else {
                throw LinearRegex.error(pattern, "it is too large once its repetitions are written out; repeat less")
            }
            switch node {
            case .empty: break
            case .character(let characterClass):
                classes.append(characterClass)
                program.append(.character(classes.count - 1))
            case .start: program.append(.start)
            case .end: program.append(.end)
            case .wordBoundary(let wanted): program.append(.wordBoundary(wanted))
            case .sequence(let items): for item in items { try emit(item, pattern: pattern) }
            case .alternatives(let options):
                var jumps: [Int] = []
                for (number, option) in options.enumerated() {
                    if number == options.count - 1 {
                        try emit(option, pattern: pattern)
                    } else {
                        let split = program.count
                        program.append(.split(split + 1, -1))
                        try emit(option, pattern: pattern)
                        jumps.append(program.count)
                        program.append(.jump(-1))
                        program[split] = .split(split + 1, program.count)
                    }
                }
                for jump in jumps { program[jump] = .jump(program.count) }
            case .repeated(let inner, let min, let max):
                for _ in 0..<min { try emit(inner, pattern: pattern) }
                if let max {
                    var splits: [Int] = []
                    for _ in min..<max {
                        splits.append(program.count)
                        program.append(.split(program.count + 1, -1))
                        try emit(inner, pattern: pattern)
                    }
                    for split in splits { program[split] = .split(split + 1, program.count) }
                } else {
                    let loop = program.count
                    program.append(.split(loop + 1, -1))
                    try emit(inner, pattern: pattern)
                    program.append(.jump(loop))
                    program[loop] = .split(loop + 1, program.count)
                }
            }
            guard program.count <= LinearRegex.maxProgramSize else {
                throw LinearRegex.error(pattern, "it is too large once its repetitions are written out; repeat less")
            }
        }
    }
}
