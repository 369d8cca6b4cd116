import Switchboard

/// A chore, stored in memory: `GET /api/chore/owner=bob` over HTTP, or `/chore/owner=bob` in the Shell.
struct Chore: Codable, Sendable {
    var title: String
    var owner: String
    var done: Bool
}
