public import Switchboard

/// A chat room: every connection in a room sees what the others write.
///
/// `ws://127.0.0.1:8080/api/chatroom/nickname=Ada&room=lobby`. Messages from others arrive as
/// `Ada: hello`; joins, leaves and renames as `* Ada joined`. Change your name with
/// `#TERMINAL {"Nickname": "Grace"}`.
public actor ChatRoom: TextInputTerminal, PropertyCheckingTerminal {
    public static var resourceDescription: String { "A chat room: every connection in a room sees the others' messages" }

    /// The name others see; `guest-<connection id>` if left empty.
    @Property(description: "The name others see; guest-<id> if empty") public var nickname = ""
    /// The room to be in.
    @Property(description: "The room to be in") public var room = "lobby"

    private let hub: ChatHub
    private var joined: (room: String, nickname: String)?
    private var connectionID: String?

    /// Creates a chat room terminal that meets others through `hub`.
    public init(hub: ChatHub) { self.hub = hub }

    public func open(_ connection: TerminalConnection) async throws {
        if nickname.isEmpty { nickname = "guest-\(connection.id)" }
        connectionID = connection.id
        let others = await hub.join(room: room, id: connection.id, nickname: nickname, connection: connection)
        joined = (room, nickname)
        let present = others.isEmpty ? "nobody else is here yet" : "here: " + others.joined(separator: ", ")
        try await connection.send("* Welcome to room '\(room)', \(nickname); \(present)")
        await hub.broadcast("* \(nickname) joined", in: room, except: connection.id)
    }

    public func receive(text: String, from connection: TerminalConnection) async throws {
        guard let joined else { return }
        await hub.broadcast("\(joined.nickname): \(text)", in: joined.room, except: connection.id)
    }

    public func propertiesDidChange(_ changes: PropertyChanges, on connection: TerminalConnection) async throws {
        if nickname.allSatisfy(\.isWhitespace) && joined != nil || room.isEmpty {
            throw SwitchboardError(.badRequest, code: .invalidPropertyValue, "Nickname and Room must not be empty")
        }
        guard let current = joined else { return }
        if current.room != room {
            await hub.leave(room: current.room, id: connection.id)
            await hub.broadcast("* \(current.nickname) left", in: current.room, except: connection.id)
            _ = await hub.join(room: room, id: connection.id, nickname: nickname, connection: connection)
            await hub.broadcast("* \(nickname) joined", in: room, except: connection.id)
        } else if current.nickname != nickname {
            await hub.rename(room: room, id: connection.id, to: nickname)
            await hub.broadcast("* \(current.nickname) is now known as \(nickname)", in: room, except: connection.id)
        }
        joined = (room, nickname)
    }

    public func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {
        guard let joined, let connectionID else { return }
        await hub.leave(room: joined.room, id: connectionID)
        await hub.broadcast("* \(joined.nickname) left", in: joined.room, except: nil)
    }
}

/// Where chat rooms meet: the members of every room, shared by all ``ChatRoom`` terminals of a server.
public actor ChatHub {
    private struct Member {
        var nickname: String
        let connection: TerminalConnection
    }
    private var rooms: [String: [String: Member]] = [:]

    public init() {}

    /// Adds a member; returns the nicknames of the others already in the room.
    func join(room: String, id: String, nickname: String, connection: TerminalConnection) -> [String] {
        let others = (rooms[room] ?? [:]).values.map(\.nickname).sorted()
        rooms[room, default: [:]][id] = Member(nickname: nickname, connection: connection)
        return others
    }

    func leave(room: String, id: String) {
        rooms[room]?[id] = nil
        if rooms[room]?.isEmpty == true { rooms[room] = nil }
    }

    func rename(room: String, id: String, to nickname: String) { rooms[room]?[id]?.nickname = nickname }

    /// The nicknames in a room.
    public func members(of room: String) -> [String] { (rooms[room] ?? [:]).values.map(\.nickname).sorted() }

    /// Sends a line to everyone in a room but one; members whose connection has gone are removed.
    func broadcast(_ line: String, in room: String, except excluded: String?) async {
        let recipients = (rooms[room] ?? [:]).filter { $0.key != excluded }
        await withTaskGroup(of: String?.self) { group in
            for (id, member) in recipients {
                group.addTask {
                    do {
                        try await member.connection.send(line)
                        return nil
                    } catch {
                        return id
                    }
                }
            }
            for await gone in group {
                if let gone { leave(room: room, id: gone) }
            }
        }
    }
}
