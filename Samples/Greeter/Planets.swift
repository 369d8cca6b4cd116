// An entity resource declared in a few lines: it only lists its entities, and Switchboard applies the
// whole query language to them (GET /api/planet/moons>0/order_desc=moons&limit=2).
import Switchboard

struct Planet: Codable, Sendable {
    var name: String
    var moons: Int
    var hasRings: Bool
}

struct Planets: EntityResource {
    var resourceDescription: String? { "The planets of the solar system (read-only)" }

    func select(_ request: EntitySelectRequest) async throws -> EntitySelection<Planet> {
        .unfiltered([
            Planet(name: "Mercury", moons: 0, hasRings: false), Planet(name: "Venus", moons: 0, hasRings: false),
            Planet(name: "Earth", moons: 1, hasRings: false), Planet(name: "Mars", moons: 2, hasRings: false),
            Planet(name: "Jupiter", moons: 95, hasRings: true), Planet(name: "Saturn", moons: 146, hasRings: true),
            Planet(name: "Uranus", moons: 28, hasRings: true), Planet(name: "Neptune", moons: 16, hasRings: true),
        ])
    }
}
