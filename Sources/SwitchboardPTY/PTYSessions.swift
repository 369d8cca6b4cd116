#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
public import Switchboard

/// One running PTY program, as `Switchboard.PtySession` lists it.
public struct PTYSessionEntry: InstanceLocalEntity {
    /// The terminal's name; `nil` for a connection's own terminal.
    public var name: String?
    /// The identity that started it.
    public var owner: String
    /// The program's process id.
    public var pid: Int
    /// The program.
    public var program: String
    /// How many connections are attached.
    public var clients: Int
    /// The size in effect.
    public var rows: Int
    public var cols: Int
    /// When it started.
    public var startedAt: Date
    /// The instance that runs it, in a cluster.
    public var instance: String?

    public var localID: String { String(pid) }
}

/// `Switchboard.PtySession`: the running PTY programs (like Jupyter's `/api/terminals`), of every instance in a
/// cluster; DELETE ends the matched ones, their jobs included, on the instance that runs them.
///
/// A caller sees and ends only the programs it started, unless it is an administrator
/// (`AccessRights.isAdministrator`), who sees and ends all.
struct PTYSessions: InstanceLocalResource {
    let manager: PTYManager
    var resourceName: String { "Switchboard.PtySession" }
    var resourceDescription: String? { "The running PTY programs, named and per connection; DELETE ends them" }
    var operations: EntityOperations { [.select, .delete] }

    func entities(visibleTo caller: RESTCaller?) async -> [PTYSessionEntry] {
        var entries: [PTYSessionEntry] = []
        for session in await manager.allSessions where caller.map({ Self.may($0.identity, see: session.owner) }) ?? true {
            let size = await session.size
            entries.append(
                PTYSessionEntry(
                    name: session.name, owner: session.owner, pid: Int(session.terminal.pid), program: session.terminal.program.executable,
                    clients: await session.clientCount, rows: size.rows, cols: size.cols, startedAt: session.startedAt))
        }
        return entries.sorted { $0.startedAt < $1.startedAt }
    }

    func isVisible(_ entity: PTYSessionEntry, to caller: RESTCaller) -> Bool { Self.may(caller.identity, see: entity.owner) }

    func delete(_ entities: [PTYSessionEntry], caller: RESTCaller?) async -> Int {
        var ended = 0
        for entry in entities
        where await manager.kill(pid: Int32(entry.pid), if: { session in caller.map { Self.may($0.identity, see: session.owner) } ?? true }) {
            ended += 1
        }
        return ended
    }

    static func may(_ identity: AccessIdentity?, see owner: String) -> Bool {
        guard let identity else { return false }
        return identity.rights.isAdministrator || identity.name == owner
    }
}

extension PTYManager {
    /// Registers `Switchboard.Pty` (the terminal) and `Switchboard.PtySession` (the running programs) in an API;
    /// with ``recordings``, also `Switchboard.Recording` (the recordings) and `Switchboard.Replay` (playing one).
    public nonisolated func register(in api: SwitchboardAPI) {
        api.register { PTYTerminal(manager: self) }
        api.register(resource: PTYSessions(manager: self))
        if let recordings {
            api.register(resource: RecordingResource(recordings: recordings))
            api.register { ReplayTerminal(recordings: recordings) }
        }
    }
}
