import HTTPTypes

/// What a caller may do: which methods on which resources.
///
/// Rights are a list of grants, each naming resources and methods, as in RESTable's `AllowAccess`
/// entries. A resource is named by its full name (`SwitchboardSamples.Superhero`), by a namespace and
/// `*` (`SwitchboardSamples.*`: every resource directly in that namespace, not in namespaces below it), or
/// by `*` alone (every resource). Names compare case-insensitively. `GET` implies `REPORT` and `HEAD`;
/// any method on a resource implies `OPTIONS` on it.
///
/// ```swift
/// let rights = AccessRights([
///     .init(resources: ["Switchboard.Pty", "Switchboard.Shell"], methods: [.GET]),
///     .init(resources: ["SwitchboardSamples.*"], methods: nil),   // every method
/// ])
/// rights.allows(.REPORT, on: "SwitchboardSamples.Superhero")   // true
/// ```
///
/// `Switchboard.*` does not reach `Switchboard.Admin.Console`: the administrative resources need a grant
/// that names them, `Switchboard.Admin.*`, or `*`.
public struct AccessRights: Sendable, Equatable {
    /// Methods on resources.
    public struct Grant: Sendable, Equatable {
        /// Resource names, `Namespace.*` patterns, or `*`.
        public var resources: [String]
        /// The methods granted; `nil` grants every method.
        public var methods: Set<RESTMethod>?

        /// Creates a grant.
        /// - Parameters:
        ///   - resources: Full resource names, `Namespace.*` patterns, or `*`.
        ///   - methods: The methods; `nil` for every method.
        public init(resources: [String], methods: Set<RESTMethod>?) {
            self.resources = resources
            self.methods = methods
        }

        func covers(_ resource: String) -> Bool {
            resources.contains { AccessRights.pattern($0, matches: resource) }
        }

        func grants(_ method: RESTMethod) -> Bool {
            guard let methods else { return true }
            switch method {
            case .REPORT, .HEAD: return methods.contains(method) || methods.contains(.GET)
            case .OPTIONS: return !methods.isEmpty
            default: return methods.contains(method)
            }
        }
    }

    /// The grants, in the order they were given.
    public var grants: [Grant]

    /// Creates rights from grants.
    public init(_ grants: [Grant]) { self.grants = grants }

    /// Every method on every resource.
    public static let all = AccessRights([Grant(resources: ["*"], methods: nil)])
    /// Nothing.
    public static let none = AccessRights([])

    /// Whether there is no grant at all.
    public var isEmpty: Bool { grants.allSatisfy { $0.resources.isEmpty || $0.methods?.isEmpty == true } }

    /// Whether `method` is allowed on the resource with this full name.
    public func allows(_ method: RESTMethod, on resource: String) -> Bool {
        grants.contains { $0.covers(resource) && $0.grants(method) }
    }

    /// The methods allowed on a resource, out of `methods`, in their order.
    public func allowed(_ methods: [RESTMethod], on resource: String) -> [RESTMethod] {
        methods.filter { allows($0, on: resource) }
    }

    /// Whether the rights cover the administrative resources (`Switchboard.Admin.*`): a grant of `*` or of
    /// `Switchboard.Admin.*`. Administrators see and end every connection and terminal.
    public var isAdministrator: Bool {
        grants.contains { grant in
            grant.methods == nil && grant.resources.contains { $0 == "*" || $0.lowercased() == "switchboard.admin.*" }
        }
    }

    /// Whether a grant's resource pattern (a full name, `Namespace.*` or `*`, in any case) covers the
    /// resource with this full name. A short name (`superhero`) covers only a resource whose full name it is.
    public static func pattern(_ pattern: String, matches name: String) -> Bool {
        if pattern == "*" { return true }
        let pattern = pattern.lowercased()
        let name = name.lowercased()
        guard pattern.hasSuffix(".*") else { return pattern == name }
        let namespace = pattern.dropLast(1)  // keeps the dot
        guard name.hasPrefix(namespace) else { return false }
        return !name.dropFirst(namespace.count).contains(".")
    }
}

extension AccessRights.Grant {
    /// Reads a grant written as `Resource[,Resource...]:METHOD[,METHOD...]`, such as
    /// `Switchboard.Pty,Switchboard.Shell:GET` or `SwitchboardSamples.*:*` (no methods part means every method).
    public init(parsing text: String) throws(SwitchboardError) {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let resources = parts[0].split(separator: ",").map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty }
        guard !resources.isEmpty else {
            throw SwitchboardError(
                .badRequest, code: .invalidInput, "The grant '\(text)' names no resource; write it as Resource:METHOD,METHOD")
        }
        var methods: Set<RESTMethod>? = nil
        if parts.count == 2 {
            let words = parts[1].split(separator: ",").map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty }
            if !words.contains("*") {
                var set = Set<RESTMethod>()
                for word in words {
                    guard let method = RESTMethod(name: word) else {
                        throw SwitchboardError(
                            .badRequest, code: .invalidInput,
                            "Unknown method '\(word)' in the grant '\(text)'; the methods are \(RESTMethod.allCases.map(\.rawValue).joined(separator: ", ")) and *"
                        )
                    }
                    set.insert(method)
                }
                methods = set
            }
        }
        self.init(resources: resources, methods: methods)
    }

    /// The grant as JSON: `{"Resources": [...], "Methods": [...]}` (`["*"]` for every method).
    public var json: JSON {
        [
            "Resources": .array(resources.map(JSON.string)),
            "Methods": .array(methods.map { set in RESTMethod.allCases.filter(set.contains).map { .string($0.rawValue) } } ?? ["*"]),
        ]
    }

    /// Reads a grant from its JSON form.
    public init(json: JSON) throws(SwitchboardError) {
        guard case .object(let object) = json, case .array(let names)? = object["Resources"] else {
            throw SwitchboardError(
                .badRequest, code: .invalidInput, #"A grant is an object such as {"Resources": ["Switchboard.Pty"], "Methods": ["GET"]}"#)
        }
        let resources = names.compactMap { if case .string(let name) = $0 { name } else { nil } }
        var text = resources.joined(separator: ",")
        if case .array(let methods)? = object["Methods"] {
            text += ":" + methods.compactMap { if case .string(let name) = $0 { name } else { nil } }.joined(separator: ",")
        }
        try self.init(parsing: text)
    }
}

/// Who a caller is, as far as the API is concerned: a name and rights.
///
/// Every connection and every HTTP request carries one, set once when it is authenticated. Terminals read
/// it from ``TerminalConnection/identity`` and entity resources from ``RESTCaller/identity``. It never holds
/// the key itself.
public struct AccessIdentity: Sendable, Equatable, CustomStringConvertible {
    /// The key's name from the key file (`alice`), `owner` for the server's access token, or `anonymous`.
    public var name: String
    /// Whether the caller sent no credentials.
    public var isAnonymous: Bool
    /// What the caller may do.
    public var rights: AccessRights

    /// Creates an identity.
    public init(name: String, isAnonymous: Bool = false, rights: AccessRights) {
        self.name = name
        self.isAnonymous = isAnonymous
        self.rights = rights
    }

    /// A caller nobody authenticated: anonymous, with no right. What a request falls back to when no
    /// identity was set on it, so that a missing check fails closed.
    public static let nobody = AccessIdentity(name: "anonymous", isAnonymous: true, rights: .none)

    /// The identity of every caller when authentication is off: anonymous, with every right.
    public static let unrestricted = AccessIdentity(name: "anonymous", isAnonymous: true, rights: .all)

    public var description: String { isAnonymous ? "anonymous" : "'\(name)'" }
}
