import Foundation
import NIOCore
import Switchboard
import SwitchboardSQLite
import Testing

/// The SQLite store on its own: a real database file, written, closed, reopened. (The query language is
/// checked against this store and the in-memory one side by side in `QueryLanguageTests`.)
@Suite(.timeLimit(.minutes(1)))
struct SQLiteEntityStoreTests {
    struct Note: Codable, Sendable, Equatable {
        var title: String
        var pinned: Bool
        var written: Date?
    }

    static let seed = [Note(title: "first", pinned: true, written: nil), Note(title: "second", pinned: false, written: nil)]

    static func get(_ api: SwitchboardAPI, _ uri: String) async -> JSON? {
        let response = await api.execute(RESTRequest(method: .GET, uri: uri, headers: [.accept: "application/json; raw=true"]))
        return response.body
    }

    @Test func keepsWhatWasWrittenAcrossReopening() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-\(UUID().uuidString).sqlite").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let store = try await SQLiteEntityStore<Note>.open(path: path, name: "Tests.Note", seed: Self.seed)
            let api = SwitchboardAPI()
            api.register(resource: store)
            let body = #"{"Title": "third", "Pinned": false, "Written": "1962-05-01T10:00:00.250Z"}"#
            let posted = await api.execute(
                RESTRequest(method: .POST, uri: "/note", headers: [.contentType: "application/json"], body: ByteBuffer(string: body)))
            #expect(posted.status == 201)
            try await store.close()
        }
        let reopened = try await SQLiteEntityStore<Note>.open(path: path, name: "Tests.Note", seed: [])
        let api = SwitchboardAPI()
        api.register(resource: reopened)
        #expect(await Self.get(api, "/note//select=title") == [["Title": "first"], ["Title": "second"], ["Title": "third"]], "seeded once, then kept")
        #expect(await Self.get(api, "/note/title=third/select=written") == [["Written": "1962-05-01T10:00:00.250Z"]], "milliseconds kept")
        try await reopened.close()
    }

    @Test func aClosedStoreRefusesAndClosingTwiceIsHarmless() async throws {
        let store = try await SQLiteEntityStore<Note>.open(path: nil, name: "Tests.Note", seed: Self.seed)
        let api = SwitchboardAPI()
        api.register(resource: store)
        try await store.close()
        try await store.close()
        let response = await api.execute(RESTRequest(method: .GET, uri: "/note"))
        #expect(response.status >= 500, "\(response.statusLine)")
        // The server's log has the details; the client gets an error id, not SQLite's message.
        #expect(response.statusLine.contains("error id"), "\(response.statusLine)")
    }
}
