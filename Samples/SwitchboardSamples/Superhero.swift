public import Switchboard

/// A superhero: the sample entity of `switchboard serve`, to play with from the Shell and over HTTP.
///
/// Clients see the properties as `Name`, `Year` and `HasSecretIdentity`:
/// `GET /api/superhero/year>1950/order_asc=name`.
public struct Superhero: Codable, Sendable, Equatable {
    /// The hero's name.
    public var name: String
    /// The year of the first appearance.
    public var year: Int
    /// Whether the hero keeps a secret identity.
    public var hasSecretIdentity: Bool

    public init(name: String, year: Int, hasSecretIdentity: Bool) {
        self.name = name
        self.year = year
        self.hasSecretIdentity = hasSecretIdentity
    }

    /// The entries a new sample database starts with.
    public static let samples = [
        Superhero(name: "Superman", year: 1938, hasSecretIdentity: true),
        Superhero(name: "Batman", year: 1939, hasSecretIdentity: true),
        Superhero(name: "Wonder Woman", year: 1941, hasSecretIdentity: true),
        Superhero(name: "Spider-Man", year: 1962, hasSecretIdentity: true),
        Superhero(name: "Storm", year: 1975, hasSecretIdentity: false),
        Superhero(name: "Deadpool", year: 1991, hasSecretIdentity: false),
    ]

    /// The sample views: `/superhero-modern` and `/superhero-secret`.
    public static let views = [
        EntityView("Modern", description: "Heroes since 1960, oldest first", conditions: "Year>=1960", metaConditions: "order_asc=Year"),
        EntityView("Secret", description: "Heroes with a secret identity", conditions: "HasSecretIdentity=true"),
    ]

    /// What the resource holds, for its description.
    public static let resourceDescription = "Sample superheroes: Name, Year of first appearance, HasSecretIdentity"
}
