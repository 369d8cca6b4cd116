/// The methods of the REST layer.
public enum RESTMethod: String, Sendable, CaseIterable, CustomStringConvertible {
    case GET, POST, PUT, PATCH, DELETE, REPORT, HEAD, OPTIONS
    public var description: String { rawValue }

    /// Whether the method only reads (`GET`, `REPORT`, `HEAD`, `OPTIONS`): what every caller may use on the
    /// resources open to all, and what leaves the cluster's snapshots as they are.
    public var onlyReads: Bool {
        switch self {
        case .GET, .REPORT, .HEAD, .OPTIONS: true
        case .POST, .PUT, .PATCH, .DELETE: false
        }
    }

    /// Reads a method name in any case.
    public init?(name: String) {
        self.init(rawValue: name.uppercased())
    }
}
