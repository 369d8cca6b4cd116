public import Hummingbird
import HTTPTypes
import NIOCore
public import Switchboard

extension Router {
    /// Serves metrics for a scraper (Prometheus) at `path`: the text `render` returns, with `contentType`.
    ///
    /// Like everything else it needs a key: `Authorization: Bearer <key>`, for an identity allowed `GET` on
    /// `Switchboard.Metrics` (an administrator, or a key granted that name:
    /// `switchboard keys add prometheus --allow 'Switchboard.Metrics:GET'`). Without one it answers `401`; with a
    /// key that lacks the right, `403`; for a host the server does not answer, `403`. The figures never hold keys,
    /// URIs or message contents, only counts, sizes, types and durations. A `HEAD` is answered as the `GET`, without
    /// the body.
    /// - Parameters:
    ///   - path: Where the figures are (`/metrics`).
    ///   - api: The API whose `Authenticator` checks the key.
    ///   - configuration: The server's configuration, for the hosts it answers.
    ///   - contentType: The type of the text (Prometheus: `text/plain; version=0.0.4; charset=utf-8`).
    ///   - render: Writes the figures, for each request (`PrometheusCollectorRegistry.emitToBuffer()`).
    public func addMetricsEndpoint(
        at path: String = "/metrics", api: SwitchboardAPI, configuration: SwitchboardServerConfiguration,
        contentType: String = "text/plain; version=0.0.4; charset=utf-8", render: @escaping @Sendable () -> [UInt8]
    ) {
        let guardian = configuration.browserGuard
        getAndHead(path) { request, _ -> Response in
            var headers = HTTPFields()
            headers[.cacheControl] = "no-store"
            // The refusals are text; the figures' own type is set when they are sent.
            headers[.contentType] = "text/plain; charset=utf-8"
            guard guardian.allowsHost(request.head.authority) else { return .unknownHost(headers: headers) }
            guard let identity = try? await api.authenticate(headers: request.headers, uriKey: nil), !identity.isAnonymous || identity.rights.isAdministrator
            else {
                headers[.wwwAuthenticate] = #"Bearer realm="Switchboard""#
                return Response(
                    status: .unauthorized, headers: headers,
                    body: ResponseBody(byteBuffer: ByteBuffer(string: "401: Unauthorized. The metrics need a key: Authorization: Bearer <key>\n")))
            }
            guard identity.rights.allows(.GET, on: "Switchboard.Metrics") else {
                return Response(
                    status: .forbidden, headers: headers,
                    body: ResponseBody(byteBuffer: ByteBuffer(string: "403: Forbidden. \(identity) may not GET Switchboard.Metrics\n")))
            }
            headers[.contentType] = contentType
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: render())))
        }
    }
}
