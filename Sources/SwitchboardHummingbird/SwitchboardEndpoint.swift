import Hummingbird
import HTTPTypes

/// The routes `Router.addSwitchboard(_:configuration:)` adds, as one handler, and which requests they take.
///
/// ``takes(_:)`` decides on the path's bytes what the router's trie decides by `Character`s, for the
/// requests where the two cannot differ: a path of ASCII bytes (where every `/` is a `Character` of its own)
/// below a root of plain ASCII characters, in a router where no route of the application's own could match
/// such a path (``answering(besides:)``). It never takes a request the trie would give to another route;
/// for the rest it answers `false` and the router decides, as before.
struct SwitchboardEndpoint<Context: SwitchboardRequestContextProtocol>: Sendable {
    /// The methods Switchboard's routes are added to the router with: the REST layer's, and every other method
    /// NIO's HTTP/1 parser reads (llhttp's list), which the REST layer answers `501 Not implemented` rather
    /// than leave them to the router's empty `404`. (Over HTTP/2 a method may be any token: ``takes(_:)``
    /// takes those too where the endpoint answers ahead of the router.)
    static var methods: [HTTPRequest.Method] {
        let rest: [HTTPRequest.Method] = [.get, .post, .put, .patch, .delete, .head, .options, HTTPRequest.Method("REPORT")!]
        return rest + otherMethods
    }

    /// The methods besides the REST layer's that NIO's HTTP/1 parser reads; it answers any other `400`.
    static var otherMethods: [HTTPRequest.Method] {
        [
            "CONNECT", "TRACE", "QUERY", "COPY", "LOCK", "MKCOL", "MOVE", "PROPFIND", "PROPPATCH", "SEARCH", "UNLOCK", "BIND", "REBIND",
            "UNBIND", "ACL", "MKACTIVITY", "CHECKOUT", "MERGE", "M-SEARCH", "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE", "PURGE", "MKCALENDAR",
            "LINK", "UNLINK", "SOURCE",
        ].map { HTTPRequest.Method($0)! }
    }

    /// The router paths of Switchboard's routes, and the methods each answers.
    ///
    /// `/api(<key>)/...` matches `/api(*` and below. A URI has at most three segments (resource, conditions,
    /// meta-conditions), which plain wildcards match; `/**` after them takes the longer paths, for their
    /// `400`. (A `/**` beside the `/*` would be ambiguous to the router, and a `/**` match costs an HTTP
    /// request a catch-all parameter: 2 % of a `GET`.) ``takes(_:)`` must take no path that these do not match.
    static func routes(root: String, opensShellAtSlash: Bool) -> [(path: String, methods: [HTTPRequest.Method])] {
        let keyed = root.isEmpty ? "/(*" : root + "(*"
        var paths = [root.isEmpty ? "/" : root, keyed]
        for base in [root, keyed] {
            paths += [base + "/*", base + "/*/*", base + "/*/*/*", base + "/*/*/*/**"]
        }
        var routes = Set(paths).sorted().map { (path: $0, methods: methods) }
        if opensShellAtSlash && !root.isEmpty { routes.append((path: "/", methods: [.get])) }
        return routes
    }

    /// The root's path components as bytes (`/api` is `["api"]`); `nil` when every request goes to the router:
    /// the root has characters a router path reads as patterns (`*`, `:`, `{`, `}`) or is not ASCII, or a
    /// route of the application's own could match a path below it.
    private(set) var rootComponents: [[UInt8]]?
    /// The root, as configured (normalized).
    let root: String
    /// Whether `GET /` opens the Shell (a route of its own when the root is not `/`).
    let opensShellAtSlash: Bool
    /// The handler of every Switchboard route.
    let handler: @Sendable (Request, Context) async throws -> Response

    init(root: String, opensShellAtSlash: Bool, handler: @escaping @Sendable (Request, Context) async throws -> Response) {
        rootComponents = Self.isPlain(root.utf8) ? Self.components(of: root) : nil
        self.root = root
        self.opensShellAtSlash = opensShellAtSlash
        self.handler = handler
    }

    /// This endpoint as it may answer in front of a router holding `routes` (Switchboard's among them).
    ///
    /// A router's trie tries constant path components before wildcards, so a route of the application's own
    /// below the root (`/api/version`) takes its path from Switchboard's `/api/*`. When any route that is not
    /// Switchboard's could match a path below the root, every request goes to the router.
    func answering(besides routes: [(path: String, method: HTTPRequest.Method)]) -> Self {
        let own = Set(
            Self.routes(root: root, opensShellAtSlash: opensShellAtSlash).flatMap { route in
                route.methods.map { "\($0.rawValue) \(RouterPath(route.path))" }
            })
        var endpoint = self
        if routes.contains(where: { !own.contains("\($0.method.rawValue) \($0.path)") && couldMatchBelowRoot($0.path) }) {
            endpoint.rootComponents = nil
        }
        return endpoint
    }

    /// Whether a route's path could match a path below the root: its components up to the root's depth are
    /// each a pattern, the root's component, or (the last) the root's component with a key; and it is as deep.
    /// Where unsure, yes.
    func couldMatchBelowRoot(_ routePath: String) -> Bool {
        guard let rootComponents else { return true }
        let components = Self.components(of: routePath)
        for (position, component) in components.prefix(rootComponents.count).enumerated() {
            guard Self.isPlain(component) else { return true }
            if component == rootComponents[position] { continue }
            guard position == rootComponents.count - 1, Self.isKeyed(component, rootComponent: rootComponents[position]) else { return false }
        }
        return components.count >= rootComponents.count
    }

    /// Whether the router would give this request to one of Switchboard's routes, had they been added for its
    /// method; `false` also where it cannot tell without the router (a path with non-ASCII bytes, a root with
    /// patterns). Any method is taken: where this answers at all, no route of the application's own matches a
    /// path below the root, whatever its method (``answering(besides:)``).
    func takes(_ request: Request) -> Bool {
        takes(method: request.method, path: request.uri.path)
    }

    /// ``takes(_:)`` for a request's method and path.
    func takes(method: HTTPRequest.Method, path: String) -> Bool {
        guard let rootComponents else { return false }
        var path = path
        return path.withUTF8 { Self.isBelow(rootComponents, path: $0, isGET: method == .get, opensShellAtSlash: opensShellAtSlash) }
    }

    /// The router's patterns (see ``routes(root:opensShellAtSlash:)``), on bytes: the root's components, the
    /// last one alone or followed by `(` (a key); then any number of components. Empty components are skipped,
    /// as the router skips them.
    static func isBelow(_ root: [[UInt8]], path: UnsafeBufferPointer<UInt8>, isGET: Bool, opensShellAtSlash: Bool) -> Bool {
        guard path.allSatisfy({ $0 < 0x80 }) else { return false }
        let slash = UInt8(ascii: "/")
        var index = 0
        func nextComponent() -> Range<Int>? {
            while index < path.count && path[index] == slash { index += 1 }
            guard index < path.count else { return nil }
            let start = index
            while index < path.count && path[index] != slash { index += 1 }
            return start..<index
        }
        for (position, rootComponent) in root.enumerated() {
            guard let component = nextComponent() else {
                // `/` alone: the root's own route when the root is `/`, else `GET /` when it opens the Shell.
                return position == 0 && isGET && opensShellAtSlash
            }
            let bytes = UnsafeBufferPointer(rebasing: path[component])
            if bytes.elementsEqual(rootComponent) { continue }
            guard position == root.count - 1, isKeyed(bytes, rootComponent: rootComponent) else { return false }
        }
        return true
    }

    /// `api(<key>)`: a root's last component followed by `(`, as the route `/api(*` matches it.
    static func isKeyed<Bytes: Collection<UInt8>>(_ component: Bytes, rootComponent: [UInt8]) -> Bool {
        component.count > rootComponent.count && component.starts(with: rootComponent)
            && component.dropFirst(rootComponent.count).first == UInt8(ascii: "(")
    }

    /// A path's non-empty components, as bytes.
    static func components(of path: String) -> [[UInt8]] {
        path.utf8.split(separator: UInt8(ascii: "/")).map(Array.init)
    }

    /// Whether text is ASCII without the characters a router path reads as patterns.
    static func isPlain<Bytes: Collection<UInt8>>(_ text: Bytes) -> Bool {
        text.allSatisfy { $0 < 0x80 && $0 != UInt8(ascii: "*") && $0 != UInt8(ascii: ":") && $0 != UInt8(ascii: "{") && $0 != UInt8(ascii: "}") }
    }
}
