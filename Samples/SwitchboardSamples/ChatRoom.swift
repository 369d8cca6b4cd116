public import Switchboard

/// A chat room: every connection in a room sees what the others write.
///
/// `ws://127.0.0.1:8080/api/chatroom/nickname=Ada&room=lobby`. Messages from others arrive as
/// `Ada: hello`; joins, leaves and renames as `* Ada joined`. Change your name with
/// `#TERMINAL {"Nickname": "Grace"}`.
///
/// What one member writes reaches the others' terminals, so it is made safe for them first: a message is
/// sent line by line (up to 100), each with its sender's name (a line break cannot start a line that seems to
/// be someone else's), and control characters (escape sequences that clear a screen or set a window's title, a carriage
/// return that writes over the name) are taken out. A nickname is up to 32 printable characters, and no other
/// member in the room on this instance has it.
///
/// The room has no hub of its own: a room is a broadcast group (``GroupMemberTerminal``), which the API sends to
/// (``SwitchboardAPI/broadcast(_:toGroup:of:except:)``) on this instance, and on every instance of the system
/// once the API has joined a cluster (`serve --database` does). Who is present is listed from this instance's
/// terminals (``SwitchboardAPI/terminals(of:)``).
public actor ChatRoom: TextInputTerminal, PropertyCheckingTerminal, GroupMemberTerminal {
    public static var resourceDescription: String { "A chat room: every connection in a room sees the others' messages" }

    /// The name others see; `guest-<connection id>` if left empty.
    @Property(description: "The name others see; guest-<id> if empty") public var nickname = ""
    /// The room to be in.
    @Property(description: "The room to be in") public var room = "lobby"

    /// The room and name others know this member by, once it has joined.
    private var joined: (room: String, nickname: String)?

    public init() {}

    /// The name of this member if it is in `room`.
    func nickname(in room: String) -> String? { joined?.room == room ? joined?.nickname : nil }

    /// Whether this member is in the room `group`.
    public func isMember(of group: String) -> Bool { joined?.room == group }

    public func open(_ connection: TerminalConnection) async throws {
        if nickname.isEmpty { nickname = "guest-\(connection.id)" }
        let others = await Self.members(of: room, except: connection)
        try Self.check(nickname: nickname, room: room, others: others)
        joined = (room, nickname)
        let present = others.isEmpty ? "nobody else is here yet" : "here: " + others.sorted().joined(separator: ", ")
        // The others first: once the welcome is read, this member is there (in a cluster, saying it takes a
        // round trip to the database).
        await Self.say("* \(nickname) joined", in: room, from: connection)
        try await connection.send("* Welcome to room '\(room)', \(nickname); \(present)")
    }

    public func receive(text: String, from connection: TerminalConnection) async throws {
        guard let joined else { return }
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        if lines.count > 1, lines.last?.isEmpty == true { lines.removeLast() }
        guard lines.count <= 100 else {
            throw SwitchboardError(.badRequest, code: .invalidInput, "A message is up to 100 lines; this one has \(lines.count)")
        }
        for line in lines {
            let shown = String(String.UnicodeScalarView(line.unicodeScalars.filter { !Self.isControl($0) }))
            try await connection.api.broadcast("\(joined.nickname): \(shown)", toGroup: joined.room, of: ChatRoom.self, except: connection)
        }
    }

    public func propertiesDidChange(_ changes: PropertyChanges, on connection: TerminalConnection) async throws {
        if nickname.allSatisfy(\.isWhitespace) && joined != nil || room.isEmpty {
            throw SwitchboardError(.badRequest, code: .invalidPropertyValue, "Nickname and Room must not be empty")
        }
        guard let current = joined else { return }
        if changes.contains($nickname) || changes.contains($room) {
            try Self.check(nickname: nickname, room: room, others: await Self.members(of: room, except: connection))
        }
        joined = (room, nickname)
        if current.room != room {
            await Self.say("* \(current.nickname) left", in: current.room, from: connection)
            await Self.say("* \(nickname) joined", in: room, from: connection)
        } else if current.nickname != nickname {
            await Self.say("* \(current.nickname) is now known as \(nickname)", in: room, from: connection)
        }
    }

    public func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {
        guard let joined else { return }
        await Self.say("* \(joined.nickname) left", in: joined.room, from: connection)
    }

    /// The nicknames of the other members in `room` on this instance.
    private static func members(of room: String, except connection: TerminalConnection) async -> [String] {
        var names: [String] = []
        for member in connection.api.terminals(of: ChatRoom.self) where member.connection.id != connection.id {
            if let name = await member.terminal.nickname(in: room) { names.append(name) }
        }
        return names
    }

    /// A nickname and a room others can read, and a nickname nobody else in the room has.
    private static func check(nickname: String, room: String, others: [String]) throws(SwitchboardError) {
        guard nickname.count <= 32, room.count <= 64, !(nickname + room).unicodeScalars.contains(where: isControl) else {
            throw SwitchboardError(
                .badRequest, code: .invalidPropertyValue, "A nickname is up to 32 characters and a room up to 64, without control characters")
        }
        guard !others.contains(where: { $0.lowercased() == nickname.lowercased() }) else {
            throw SwitchboardError(.conflict, code: .invalidPropertyValue, "The nickname '\(nickname)' is taken in room '\(room)'; choose another")
        }
    }

    /// Control characters: C0 (line breaks and tabs among them), DEL and C1. A terminal acts on them.
    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    /// Tells everyone else in a room; a notice that the cluster cannot carry is left out.
    private static func say(_ line: String, in room: String, from connection: TerminalConnection) async {
        try? await connection.api.broadcast(line, toGroup: room, of: ChatRoom.self, except: connection)
    }
}
