import Switchboard

/// Where a request came from, when proxies in front of the server may say so.
struct ForwardedClient {
    /// The client's address: the peer's, or, when the peer is a trusted proxy, the right-most
    /// `X-Forwarded-For` entry that is not a trusted proxy (entries to its left are the client's own
    /// claims, which anyone can forge).
    let address: String
    /// Whether the client's connection was encrypted: TLS to this server, or a trusted proxy's
    /// `X-Forwarded-Proto: https`.
    let isEncrypted: Bool

    init(peer: String, isTLS: Bool, headers: HTTPFields, trustedProxies: [IPAddressRange]) {
        func trusted(_ address: String) -> Bool { trustedProxies.contains { $0.contains(address) } }
        guard !trustedProxies.isEmpty, trusted(peer) else {
            address = peer
            isEncrypted = isTLS
            return
        }
        let chain = headers.values(named: "X-Forwarded-For").flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: " ") }.filter { !$0.isEmpty }
        var client = peer
        for hop in chain.reversed() {
            client = hop
            if !trusted(hop) { break }
        }
        address = client
        // The nearest proxy's word on the scheme: the last value it wrote.
        let proto = headers.values(named: "X-Forwarded-Proto").flatMap { $0.split(separator: ",") }.last
        isEncrypted = isTLS || proto.map { $0.trimmingCharacters(in: " ").lowercased() == "https" } ?? false
    }
}

extension HTTPFields {
    /// The values of every field with this name, in order.
    func values(named name: String) -> [String] {
        guard let name = HTTPField.Name(name) else { return [] }
        return self[values: name]
    }
}
