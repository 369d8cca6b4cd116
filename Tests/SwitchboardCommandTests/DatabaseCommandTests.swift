import Foundation
import Switchboard
import Testing

@testable import SwitchboardTestSupport

/// `switchboard serve --database`: two instances on one PostgreSQL database (`SWITCHBOARD_TEST_POSTGRES`;
/// `.ci/run` starts Debian's PostgreSQL and sets it).
extension CommandLineTests {
    static let postgresURL = ProcessInfo.processInfo.environment["SWITCHBOARD_TEST_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 }

    @Test(.enabled(if: postgresURL != nil, "needs SWITCHBOARD_TEST_POSTGRES (.ci/run starts PostgreSQL)"))
    func twoInstancesOnOneDatabaseServeTheSameEntities() async throws {
        let url = try #require(Self.postgresURL)
        let (first, second) = (Self.temporaryDirectory(), Self.temporaryDirectory())
        defer { for data in [first, second] { try? FileManager.default.removeItem(atPath: data) } }
        let (one, onePort, log) = try await startServeWithLog(dataDirectory: first, ["--database", url]).get()
        defer { if one.isRunning { one.terminate() } }
        // The password stays out of the process list when it comes from the environment.
        let (two, twoPort) = try await startServe(dataDirectory: second, environment: ["SWITCHBOARD_DATABASE": url])
        defer { if two.isRunning { two.terminate() } }
        #expect(log.contains("Sample data: PostgreSQL at "))
        #expect(!log.contains(URLComponents(string: url)?.password ?? "no password"), "the password is never printed")

        let name = "Rogue-\(UUID().uuidString.prefix(8))"
        let posted = try await RawHTTP.request(
            port: onePort, "POST", "/api/superhero", headers: ["Authorization: Bearer \(try Self.token(first))", "Content-Type: application/json"],
            body: #"{"Name": "\#(name)", "Year": 1981, "HasSecretIdentity": false}"#)
        #expect(posted.status == 201, "\(posted.body)")
        let read = try await RawHTTP.request(
            port: twoPort, "GET", "/api/superhero/name=\(name)", headers: ["Authorization: Bearer \(try Self.token(second))"])
        #expect(read.status == 200)
        #expect(read.body.contains("\"Year\": 1981"))
        let deleted = try await RawHTTP.request(
            port: twoPort, "DELETE", "/api/superhero/name=\(name)", headers: ["Authorization: Bearer \(try Self.token(second))"])
        #expect(deleted.body.contains("\"DeletedCount\": 1"))
        for process in [one, two] {
            process.terminate()
            try await onOwnThread { process.waitUntilExit() }
        }
    }

    @Test(.enabled(if: postgresURL != nil, "needs SWITCHBOARD_TEST_POSTGRES (.ci/run starts PostgreSQL)"))
    func aDatabaseThatRefusesTheLoginStopsServeWithoutPrintingThePassword() async throws {
        let url = try #require(Self.postgresURL)
        var components = try #require(URLComponents(string: url))
        components.password = "wrong-password-\(UUID().uuidString.prefix(6))"
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let wrong = try #require(components.string)
        let result = try await run(["serve", "--port", "0", "--data-dir", data, "--database", wrong], input: "")
        #expect(result.status != 0)
        #expect(result.err.contains("Cannot use the database PostgreSQL at "), "\(result.err)")
        #expect(!result.err.contains(components.password ?? ""), "the password is never printed")
        let invalid = try await run(["serve", "--port", "0", "--data-dir", data, "--database", "mysql://nobody@host/db"], input: "")
        #expect(invalid.status != 0)
        #expect(invalid.err.contains("--database: Use postgres://user:password@host:port/database"), "\(invalid.err)")
    }
}
