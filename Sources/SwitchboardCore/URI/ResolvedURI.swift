import HTTPTypes

/// What a URI names, resolved once against an API's resources: a terminal with its property values
/// checked and converted, or an entity resource with a typed query.
///
/// Resolve with ``SwitchboardAPI/resolve(_:for:)``, keep the result, and build requests from it
/// (``RESTRequest/init(method:query:headers:body:caller:unsafe:)``) or page it (``EntityQuery/nextPage(size:)``):
/// nothing is parsed twice. The Shell keeps its location this way.
public enum ResolvedURI: Sendable {
    /// A terminal resource; entering it (`GET`) needs a WebSocket connection.
    case terminal(TerminalTarget)
    /// An entity resource, with the query the URI's conditions and meta-conditions make.
    case entities(EntityQuery)

    /// The canonical form: full resource name, declared property names, normalised values.
    public var canonical: String {
        switch self {
        case .terminal(let target): target.canonical
        case .entities(let query): query.canonical
        }
    }

    /// The resource the URI names.
    public var resource: RegisteredResource {
        switch self {
        case .terminal(let target): .terminal(target.descriptor)
        case .entities(let query): .entity(query.resource)
        }
    }

    /// The entity query, when the URI names an entity resource.
    public var entityQuery: EntityQuery? {
        if case .entities(let query) = self { query } else { nil }
    }
}

extension SwitchboardAPI {
    /// Resolves a URI relative to the API root (`/superhero/year>1950//limit=10`, `/echo/prefix=>`) against
    /// the registered resources. An empty resource name (`/`) names the list of resources, as over HTTP.
    /// - Parameters:
    ///   - uri: The URI as written, percent-encoded; at most ``Configuration/maxURILength`` bytes.
    ///   - identity: The caller, when there is one: a `404` then lists only the resources it may use, and a
    ///     resource it has no right on is refused (`401`/`403`) before anything about its properties is said.
    /// - Throws: ``SwitchboardError`` naming the problem: syntax, an unknown resource, view, property or
    ///   meta-condition, a value of the wrong type.
    public func resolve(_ uri: String, for identity: AccessIdentity? = nil) throws(SwitchboardError) -> ResolvedURI {
        try resolve(ResourceURI(parsing: uri, maxLength: configuration.maxURILength), written: uri, for: identity)
    }

    /// Resolves a parsed URI; an empty resource name is `emptyName`. A caller without any right on the
    /// resource gets the error ``authorize(_:on:for:)`` gives for `method`.
    func resolve(
        _ uri: ResourceURI, written: String, emptyName: String = AvailableResources.resourceName, method: RESTMethod = .GET,
        for identity: AccessIdentity?, named: RegisteredResource? = nil
    ) throws(SwitchboardError) -> ResolvedURI {
        let (found, view) = try locate(uri, defaultName: emptyName, for: identity, named: named)
        // The request's own method first: allowed, it answers without listing the resource's methods.
        if let identity, !(found.supports(method) && allows(method, on: found, for: identity)), !allowsAnyMethod(on: found, for: identity) {
            try authorize(found.supports(method) ? method : found.methods.first ?? method, on: found, for: identity)
        }
        switch found {
        case .entity(let entity):
            return .entities(try EntityQuery(uri: uri, resource: entity, view: view))
        case .terminal(let descriptor):
            return .terminal(try TerminalTarget(uri, written: written, descriptor: descriptor))
        }
    }

    /// Finds the resource (and view) a parsed URI names; an empty name is `defaultName`. `named` is the resource
    /// of the URI's resource name when the caller has looked it up already.
    func locate(
        _ uri: ResourceURI, defaultName: String, for identity: AccessIdentity? = nil, named: RegisteredResource? = nil
    ) throws(SwitchboardError) -> (RegisteredResource, EntityView?) {
        let name = uri.baseResourceName.isEmpty ? defaultName : uri.baseResourceName
        let found: RegisteredResource
        if let named { found = named } else { found = try resource(named: name, visibleTo: identity) }
        guard let viewName = uri.viewName else { return (found, nil) }
        switch found {
        case .terminal(let terminal):
            throw SwitchboardError(
                .notFound, code: .unknownResource,
                "Terminal resource '\(terminal.name)' has no views; remove '-\(viewName)' from '\(uri.resourceName)'")
        case .entity(let entity):
            guard let view = entity.views.first(where: { $0.name.lowercased() == viewName.lowercased() }) else {
                let names = entity.views.map(\.name).joined(separator: ", ")
                throw SwitchboardError(
                    .notFound, code: .unknownResource,
                    "Resource '\(entity.name)' has no view '\(viewName)'; " + (names.isEmpty ? "it has no views" : "its views are \(names)"))
            }
            return (found, view)
        }
    }
}
