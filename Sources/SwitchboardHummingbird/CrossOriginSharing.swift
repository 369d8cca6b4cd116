import HTTPTypes
import Hummingbird
import Switchboard

/// Lets web pages of the origins an operator lists (`--allow-origin`, ``SwitchboardServerConfiguration/allowedOrigins``)
/// use the REST API over HTTP with `fetch`: their answers carry `Access-Control-Allow-Origin`, and a browser's
/// preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered before any key is asked for, since a
/// browser sends none with it. Every other origin gets no such field, so its pages still cannot read an answer;
/// the server's own pages need none.
///
/// The leave covers reading only: a request from a listed origin still needs its key, sent in `Authorization`
/// (`Access-Control-Allow-Credentials` is never sent, so a browser sends no cookie cross-origin; no cookie
/// carries a key besides).
enum CrossOriginSharing {
    /// The methods a preflight allows: every method of the REST layer (a resource's own are checked as always).
    static let allowedMethods = "GET, HEAD, POST, PUT, PATCH, DELETE, REPORT, OPTIONS"
    /// The response fields a page may read besides the simple ones.
    static let exposedFields = "Switchboard-Info, Switchboard-Error, Switchboard-Elapsed-Ms, Content-Disposition"
    /// How long a browser may keep a preflight's answer, in seconds.
    static let preflightMaxAge = "600"

    /// Whether `request` is a browser's preflight: `OPTIONS` with `Access-Control-Request-Method`.
    static func isPreflight(_ request: Request) -> Bool {
        request.method == .options && request.headers[.accessControlRequestMethod] != nil
    }

    /// The answer to a preflight from a listed origin: `204` with the methods and the fields the page asked
    /// to send (whatever they are, a request is still checked as any other).
    static func preflightResponse(origin: String, request: Request) -> Response {
        var headers = HTTPFields()
        headers[.accessControlAllowOrigin] = origin
        headers[.accessControlAllowMethods] = allowedMethods
        if let requested = request.headers[.accessControlRequestHeaders] {
            headers[.accessControlAllowHeaders] = requested
        }
        headers[.accessControlMaxAge] = preflightMaxAge
        headers[.vary] = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
        return Response(status: .noContent, headers: headers)
    }

    /// Lets a page of `origin` read `response`.
    static func share(_ response: inout Response, withOrigin origin: String) {
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.accessControlExposeHeaders] = exposedFields
        response.headers.append(HTTPField(name: .vary, value: "Origin"))
    }
}
