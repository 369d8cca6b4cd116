// Examples from Docs/Server.md and Docs/Embedding.md, compiled so that the guides stay true.
import Switchboard
import SwitchboardHummingbird
import SwitchboardNIOSSL

/// Docs/Server.md: the ready server, on every interface.
func serveEverywhere(api: SwitchboardAPI, configuration: SwitchboardServerConfiguration) async throws {
    try await SwitchboardServer(api: api, configuration: configuration, host: "0.0.0.0", port: 8080).run()
}

/// Docs/Server.md: TLS from PEM files (module SwitchboardNIOSSL).
func serveWithTLS(api: SwitchboardAPI) async throws {
    var configuration = SwitchboardServerConfiguration()
    configuration.tls = try SwitchboardTLS(certificateFile: "cert.pem", keyFile: "key.pem")
    try await SwitchboardServer(api: api, configuration: configuration, host: "0.0.0.0", port: 8443).run()
}
