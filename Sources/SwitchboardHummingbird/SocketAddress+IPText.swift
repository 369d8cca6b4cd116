import NIOCore

extension SocketAddress {
    /// The address's IP as text, the same as NIO's `ipAddress`. An IPv4 address is written here, without the
    /// `inet_ntop` call and the buffers of NIO's conversion: this runs for every request and every upgrade.
    var ipText: String? {
        guard case .v4 = self else { return ipAddress }
        // A `sockaddr_in`: the family and the port (two bytes each), then the four octets in order.
        return withSockAddr { address, _ in
            let octets = UnsafeRawPointer(address) + 4
            return String(unsafeUninitializedCapacity: 15) { text in
                var count = 0
                for index in 0..<4 {
                    if index > 0 {
                        text[count] = UInt8(ascii: ".")
                        count += 1
                    }
                    let octet = octets.load(fromByteOffset: index, as: UInt8.self)
                    if octet >= 100 {
                        text[count] = UInt8(ascii: "0") + octet / 100
                        count += 1
                    }
                    if octet >= 10 {
                        text[count] = UInt8(ascii: "0") + octet / 10 % 10
                        count += 1
                    }
                    text[count] = UInt8(ascii: "0") + octet % 10
                    count += 1
                }
                return count
            }
        }
    }
}
