/// The methods of the REST layer.
public enum RESTMethod: String, Sendable, CaseIterable, CustomStringConvertible {
    case GET, POST, PUT, PATCH, DELETE, REPORT, HEAD, OPTIONS
    public var description: String { rawValue }

    /// Reads a method name in any case.
    public init?(name: String) {
        self.init(rawValue: name.uppercased())
    }
}
