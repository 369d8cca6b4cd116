import Foundation
import Testing

@testable import SwitchboardTestSupport

/// Mistakes in a terminal declaration are compile errors, never handlers that are silently not called: each
/// file in `Tests/Fixtures/Declarations` is type-checked against the built `Switchboard` module, and must
/// fail with the error its first line names (or, for `expect: ok`, compile).
@Suite(.timeLimit(.minutes(2)))
struct DeclarationMistakeTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures/Declarations")

    /// Type-checks one file as a user's package would compile it; returns whether it compiled, and the output.
    static func typecheck(_ file: URL) async throws -> (compiled: Bool, output: String) {
        let build = try SwitchboardBinary.url.resolvingSymlinksInPath().deletingLastPathComponent()
        let files = FileManager.default
        // The C modules the Swift modules import: SwiftPM's generated module maps, and the headers they name.
        let maps = try files.contentsOfDirectory(atPath: build.path)
            .map { build.appendingPathComponent($0).appendingPathComponent("module.modulemap") }
            .filter { $0.lastPathComponent == "module.modulemap" && files.fileExists(atPath: $0.path) }
        var includes: [String] = []
        for root in [packageRoot.appendingPathComponent(".build/checkouts"), packageRoot.appendingPathComponent("Sources")] {
            let walker = files.enumerator(atPath: root.path)
            while let path = walker?.nextObject() as? String {
                if path.hasSuffix("/include") || path == "include" { includes.append(root.appendingPathComponent(path).path) }
            }
        }
        var arguments = ["swiftc", "-typecheck", "-swift-version", "6", "-I", build.appendingPathComponent("Modules").path]
        arguments += maps.flatMap { ["-Xcc", "-fmodule-map-file=\($0.path)"] }
        arguments += includes.flatMap { ["-Xcc", "-I\($0)"] }
        arguments.append(file.path)
        let result = try await runToEnd(arguments)
        return (result.status == 0, result.output)
    }

    @Test(arguments: ["Correct", "MisspelledOpen", "MisspelledReceive", "OldClose", "OldPropertiesDidChange", "RenamedProperty"])
    func declaration(_ name: String) async throws {
        let file = Self.fixtures.appendingPathComponent(name + ".swift")
        let firstLine = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").first ?? ""
        let expected = String(firstLine.dropFirst("// expect: ".count))
        let result = try await Self.typecheck(file)
        if expected == "ok" {
            #expect(result.compiled, "\(result.output)")
        } else {
            #expect(!result.compiled)
            #expect(result.output.contains("error: \(expected)"), "\(result.output)")
        }
    }
}
