public import HTTPTypes

extension SwitchboardAPI {
    /// The resources every authenticated caller may read, as in RESTable: the home terminal, the Shell (to
    /// enter it) and the list of resources (which lists only what the caller may use).
    var openToEveryCaller: Set<String> { [home.descriptor.name.lowercased(), AvailableResources.resourceName.lowercased()] }

    /// Authenticates a caller from its headers (and the key taken out of its URI, if any).
    /// - Throws: A `401` ``SwitchboardError`` for a missing, unreadable or unknown key.
    public func authenticate(headers: HTTPFields, uriKey: String?) async throws(SwitchboardError) -> AccessIdentity {
        // With authentication off, whatever the caller sent (even an Authorization header meant for someone
        // else) is not read.
        if authenticator is AllowAllAuthenticator { return .unrestricted }
        let key = try AccessCredentials.key(headers: headers, uriKey: uriKey)
        return try await authenticator.identity(forKey: key)
    }

    /// The methods of a resource that a caller may use, in the resource's order.
    public func allowedMethods(on resource: RegisteredResource, for identity: AccessIdentity) -> [RESTMethod] {
        resource.methods.filter { allows($0, on: resource, for: identity) }
    }

    /// Whether a caller may use any method of a resource: whether it may see the resource at all. Asked for
    /// every request, without making the list ``allowedMethods(on:for:)`` makes.
    public func allowsAnyMethod(on resource: RegisteredResource, for identity: AccessIdentity) -> Bool {
        resource.methods.contains { allows($0, on: resource, for: identity) }
    }

    /// Whether a caller may use one of a resource's methods: its rights grant it, or the resource is open to
    /// every caller for reading and the method reads. Every request asks, for its one method.
    func allows(_ method: RESTMethod, on resource: RegisteredResource, for identity: AccessIdentity) -> Bool {
        if identity.rights.allows(method, on: resource.name) { return true }
        return method.onlyReads && openToEveryCaller.contains(resource.name.lowercased())
    }

    /// Checks that a caller may use a method on a resource. A method the resource does not have passes,
    /// for the caller to answer `405`.
    /// - Throws: `401` for an anonymous caller (it may have rights with a key), `403` for a key without the
    ///   right. The message names the key, never the key itself.
    public func authorize(_ method: RESTMethod, on resource: RegisteredResource, for identity: AccessIdentity) throws(SwitchboardError) {
        guard resource.supports(method), !allows(method, on: resource, for: identity) else { return }
        let what = method == .GET && resource.kind == "TerminalResource" ? "open terminal" : "\(method)"
        if identity.isAnonymous {
            throw SwitchboardError(
                .unauthorized, code: .unauthorized,
                "Authentication required to \(what) '\(resource.name)': send the access token or an API key as 'Authorization: Bearer <key>' or in the URI as /api(<key>)/..."
            )
        }
        throw SwitchboardError(.forbidden, code: .forbidden, "The key '\(identity.name)' may not \(what) '\(resource.name)'")
    }

    /// Authenticates a WebSocket connection and checks that it may open the terminal its URI names, before
    /// the transport upgrades it: transports call this and answer HTTP `401` or `403` on error.
    ///
    /// A URI that does not resolve passes: as RESTable does, the connection is upgraded and then gets the
    /// status line and a 4xxx close, which line clients show better than an HTTP status. (Its `404` lists
    /// only the resources the caller may use.)
    /// - Parameters:
    ///   - uri: The URI below the API root, with its query, as in ``ConnectionRequest``.
    ///   - headers: The upgrade request's headers.
    ///   - uriKey: The key the transport took out of the URI (`/api(<key>)/...`), if any.
    /// - Returns: The identity to put in the ``ConnectionRequest``.
    public func authorizeConnection(uri: String, headers: HTTPFields, uriKey: String?) async throws(SwitchboardError) -> AccessIdentity {
        let identity = try await authenticate(headers: headers, uriKey: uriKey)
        try authorizeConnection(of: identity, to: uri)
        return identity
    }

    /// The checks after the key: a function of its own, so that the caller's frame, which an upgrading
    /// connection's task keeps the stack slabs of, holds only what crosses its `await`.
    @inline(never)
    private func authorizeConnection(of identity: AccessIdentity, to uri: String) throws(SwitchboardError) {
        let resolved: ResolvedURI
        do {
            let parsed = try ResourceURI(parsing: uri, maxLength: configuration.maxURILength)
            resolved = try resolve(parsed, written: uri, emptyName: home.descriptor.name, for: identity)
        } catch  where error.status == 401 || error.status == 403 {
            throw error
        } catch {
            return
        }
        try authorize(.GET, on: resolved.resource, for: identity)
        // An entity resource opens the home terminal there.
        if case .entities = resolved { try authorize(.GET, on: .terminal(home.descriptor), for: identity) }
    }
}
