import Testing

@testable import SwitchboardCore
@testable import SwitchboardTestSupport

/// `LinearRegex` against Python's `re` (a matcher nobody here wrote) on the same patterns and texts.
@Suite(.timeLimit(.minutes(1)))
struct LinearRegexTests {
    static let cases: [(String, String)] = [
        ("abc", "xxabcxx"), ("abc", "ABC"), ("^abc", "xabc"), ("abc$", "abcx"), ("^$", ""), ("a.c", "a\nc"), ("a.c", "abc"),
        ("colou?r", "color"), ("colou?r", "colour"), ("colou?r", "colouur"), ("ab*c", "ac"), ("ab+c", "ac"), ("ab{2}c", "abbc"),
        ("ab{2}c", "abbbc"), ("ab{2,}c", "abbbbc"), ("ab{1,2}c", "abbbc"), ("x{0}y", "y"), ("(ab)+$", "ababab"), ("(?:ab|cd)+e", "abcde"),
        ("gr(a|e)y", "grey"), ("[a-c]+", "xyz"), ("[^a-c]", "abc"), ("[^a-c]", "abcd"), ("\\d{3}-\\d{4}", "call 555-1234"),
        ("\\w+@\\w+\\.com", "me@example.com"), ("\\s", "nospace"), ("\\S+", "   "), ("\\D", "123"), ("\\W", "abc_1"),
        ("[\\d.]+", "3.14"), ("a\\.b", "axb"), ("a\\.b", "a.b"), ("(a|b)*abb", "babababb"), ("(a*)*b", "aaaa"), ("(a|)+c", "aac"),
        ("^(\\d+|x)$", "12x"), ("a{2,3}?", "aaa"), ("[A-Z]", "q"), ("É", "é"), ("a|b|c", "zzc"), ("", "anything"), ("[-a]", "-"),
        ("[]a]", "]"), ("a{,2}", "a{,2}"), ("{", "{"), ("a{2", "a{2"), ("\\bman", "superman"), ("\\bman", "spider-man"),
        ("man\\b", "mankind"), ("\\Bman", "superman"), ("\\b\\w+\\b", "!!"),
    ]

    @Test func agreesWithPythonsRe() async throws {
        let script = """
            import json, re, sys
            cases = json.load(sys.stdin)
            print(json.dumps([re.search(p, t, re.I) is not None for p, t in cases]))
            """
        let payload = JSON.array(Self.cases.map { .array([.string($0.0), .string($0.1)]) }).compact
        let answer = try await python(script, input: payload)
        guard case .array(let expected) = try JSON(parsing: answer) else { throw TestFailure("python3 answered \(answer)") }
        for ((pattern, text), oracle) in zip(Self.cases, expected) {
            let ours = try LinearRegex(pattern).matches(text)
            #expect(.bool(ours) == oracle, "'\(pattern)' on '\(text)'")
        }
    }
}
