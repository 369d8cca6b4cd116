// Examples from Docs/EntityResources.md and Docs/PTY.md, compiled so that the guides stay true
// (Scripts/check_snippets.py checks that each example of the guides is in a compiled file).
import Switchboard
import SwitchboardPTY
import SwitchboardSQLite
import SwitchboardSamples

/// Docs/EntityResources.md: views on an in-memory store.
func storeWithViews() throws -> InMemoryEntityStore<Superhero> {
    let heroes = try InMemoryEntityStore<Superhero>(
        views: [
            EntityView("Modern", description: "Heroes since 1960, oldest first", conditions: "Year>=1960", metaConditions: "order_asc=Year"),
            EntityView("Secret", description: "Heroes with a secret identity", conditions: "HasSecretIdentity=true"),
        ], initial: Superhero.samples)
    return heroes
}

/// Docs/EntityResources.md: an in-memory store, and one saved in SQLite.
func stores(api: SwitchboardAPI) async throws {
    let heroes = try InMemoryEntityStore<Superhero>(initial: Superhero.samples)
    let saved = try await SQLiteEntityStore<Superhero>.open(path: "data/heroes.sqlite", seed: Superhero.samples)
    api.register(resource: saved)
    _ = heroes
}

/// Docs/PTY.md: a PTY terminal that runs a program of your own.
func pythonTerminal(api: SwitchboardAPI) {
    let python = PTYManager(
        configuration: .init(
            program: PTYProgram("python3", arguments: ["-q"], environment: ["PYTHONSTARTUP": ""], directory: "/srv"),
            maxTerminals: 4))
    python.register(in: api)  // Switchboard.Pty and Switchboard.PtySession
}
