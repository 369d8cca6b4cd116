import HTTPTypes

/// One entry of `Switchboard.AvailableResource`.
public struct AvailableResource: Codable, Sendable, Equatable {
    /// The full resource name.
    public var name: String
    /// What the resource is for.
    public var description: String
    /// `EntityResource` or `TerminalResource`.
    public var kind: String
    /// The methods the caller may use.
    public var methods: [String]
}

/// `Switchboard.AvailableResource`: the resources the caller may use, with kind, methods and description.
/// It is the default resource, answered at the bare API root (`GET /api`).
final class AvailableResources: EntityResource, Sendable {
    static let resourceName = "Switchboard.AvailableResource"
    var resourceName: String { Self.resourceName }
    var resourceDescription: String? { "The resources of this API that the caller may use" }
    private weak let api: SwitchboardAPI?

    init(api: SwitchboardAPI) { self.api = api }

    func select(_ request: EntitySelectRequest) async throws -> EntitySelection<AvailableResource> {
        guard let api, let identity = request.caller.identity else { return .unfiltered([]) }
        return .unfiltered(
            api.resources.compactMap { resource in
                let methods = api.allowedMethods(on: resource, for: identity)
                guard !methods.isEmpty else { return nil }
                return AvailableResource(
                    name: resource.name, description: resource.summary ?? "No description", kind: resource.kind,
                    methods: methods.map(\.rawValue))
            })
    }
}

/// One live WebSocket connection, as `Switchboard.Admin.WebSocket` lists it.
public struct WebSocketConnectionEntry: InstanceLocalEntity {
    /// The connection's short id.
    public var id: String
    /// The full name of the attached terminal.
    public var terminalType: String
    /// The attached terminal's properties.
    public var terminal: JSON
    /// The connection profile, as `#INFO` shows it.
    public var client: JSON
    /// Whether this is the connection that asks.
    public var isThis: Bool
    /// The instance that serves it, in a cluster.
    public var instance: String?

    public var localID: String { id }
}

/// `Switchboard.Admin.WebSocket`: the live WebSocket connections (of every instance, in a cluster); DELETE
/// closes the matched ones.
final class WebSocketAdmin: InstanceLocalResource, Sendable {
    var resourceName: String { "Switchboard.Admin.WebSocket" }
    var resourceDescription: String? { "The live WebSocket connections; DELETE closes the matched ones" }
    var operations: EntityOperations { [.select, .delete] }
    private weak let api: SwitchboardAPI?
    /// Takes out any key a caller put in a terminal's properties (the Shell's query: `/pty/name=<key>`).
    private let redactor: KeyRedactor

    init(api: SwitchboardAPI, redactor: KeyRedactor) {
        self.api = api
        self.redactor = redactor
    }

    func entities(visibleTo caller: RESTCaller?) async -> [WebSocketConnectionEntry] {
        var entries: [WebSocketConnectionEntry] = []
        for dispatcher in api?.liveDispatchers ?? [] {
            let snapshot = await dispatcher.terminalSnapshot()
            entries.append(
                WebSocketConnectionEntry(
                    id: dispatcher.endpoint.id, terminalType: snapshot.name, terminal: redactor.redact(snapshot.properties),
                    client: Self.redacted(dispatcher.endpoint.profile.json), isThis: caller != nil && dispatcher.endpoint.id == caller?.connectionID))
        }
        return entries.sorted { $0.id.count != $1.id.count ? $0.id.count < $1.id.count : $0.id < $1.id }
    }

    /// The resource is for administrators (its rights are checked before any row is read): they see every
    /// instance's connections.
    func isVisible(_ entity: WebSocketConnectionEntry, to caller: RESTCaller) -> Bool { true }

    /// A profile with the values of custom headers that look like credentials (`X-Api-Key`,
    /// `X-Auth-Token`, ...) replaced by `"(redacted)"`: administrators see that they were sent, not what.
    static func redacted(_ profile: JSON) -> JSON {
        guard case .object(var object) = profile, case .object(let headers)? = object["CustomHeaders"] else { return profile }
        object["CustomHeaders"] = .object(
            JSONObject(headers.members.map { name, value in (name, HTTPFields.looksSecret(name) ? "(redacted)" : value) }))
        return .object(object)
    }

    func delete(_ entities: [WebSocketConnectionEntry], caller: RESTCaller?) async -> Int {
        var closed = 0
        for entry in entities {
            if await api?.closeConnection(id: entry.id, code: .normalClosure, reason: "Closed by an administrator") == true {
                closed += 1
            }
        }
        return closed
    }
}
