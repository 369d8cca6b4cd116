import Switchboard

/// A to-do list in a terminal: `add <text>`, `done <n>`, `list`, `save`, `chores`, `shell`.
///
/// It shows each kind of declaration a terminal has: an enum property, an Int property that is checked, a
/// read-only property, text commands, JSON output from an `Encodable` value, a write to an entity resource
/// with the client's rights, a typed redirect to the Shell at a query, and errors as status lines.
actor Todo: TextInputTerminal, PropertyCheckingTerminal {
    static let resourceDescription = "A to-do list: add <text>, done <n>, list, save, chores, shell"

    enum Order: String, CaseIterable, PropertyValue { case added, alphabetical }

    @Property(description: "Whose list it is") var owner = "me"
    @Property(description: "How `list` orders the items") var order = Order.added
    @Property(description: "The most items the list holds, 1 to 100") var capacity = 10
    @Property(readOnly: true, description: "Items done so far") var doneCount = 0

    private var items: [String] = []

    /// What `list` sends, as JSON.
    struct Listing: Encodable {
        let owner: String
        let items: [String]
    }

    func open(_ connection: TerminalConnection) async throws {
        try await connection.send("\(owner)'s list. Commands: add <text>, done <n>, list, save, chores, shell")
    }

    func receive(text: String, from connection: TerminalConnection) async throws {
        let command = text.prefix { $0 != " " }.lowercased()
        let argument = text.drop { $0 != " " }.drop { $0 == " " }
        switch command {
        case "add":
            guard !argument.isEmpty else { throw Self.invalid("Write what to add, as in: add Water the plants") }
            guard items.count < capacity else { throw Self.invalid("The list is full (Capacity \(capacity)); mark something done first") }
            items.append(String(argument))
            try await connection.send("Added #\(items.count)")
        case "done":
            guard let number = Int(argument), items.indices.contains(number - 1) else {
                throw Self.invalid("'\(SwitchboardError.excerpt(String(argument)))' is not an item number; type list")
            }
            items.remove(at: number - 1)
            doneCount += 1
            try await connection.send("Done: \(doneCount) so far")
        case "list":
            try await connection.send(json: Listing(owner: owner, items: order == .added ? items : items.sorted()))
        case "save":
            // Stored as `Chore` entities, with the rights of whoever is connected.
            let chores = JSON.array(items.map { .object(["Title": .string($0), "Owner": .string(owner), "Done": false]) })
            let response = await connection.execute(.POST, ResourceURI(resourceName: "chore"), body: chores)
            try await connection.send(response.statusLine)
        case "chores":
            // The owner is any text; ResourceURI encodes it, so `a&b`, `/` and spaces stay part of the value.
            let uri = ResourceURI(resourceName: "chore", conditions: [URICondition(key: "Owner", op: .equal, value: owner)])
            try await connection.redirect(to: uri)
        case "shell":
            try await connection.redirectToShell()
        default:
            throw Self.invalid("Unknown command '\(SwitchboardError.excerpt(command))'; the commands are add, done, list, save, chores, shell")
        }
    }

    func propertiesDidChange(_ changes: PropertyChanges, on connection: TerminalConnection) async throws {
        if changes.contains($capacity), !(1...100).contains(capacity) {
            throw SwitchboardError(.badRequest, code: .invalidPropertyValue, "Capacity must be from 1 to 100")
        }
        if changes.contains($owner), owner.isEmpty {
            throw SwitchboardError(.badRequest, code: .invalidPropertyValue, "Owner must not be empty")
        }
    }

    func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {
        connection.logger.info("Todo list closed", metadata: ["todo.reason": "\(reason)"])
    }

    private static func invalid(_ message: String) -> SwitchboardError {
        SwitchboardError(.badRequest, code: .invalidInput, message)
    }
}
