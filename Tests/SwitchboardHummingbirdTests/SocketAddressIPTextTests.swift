import NIOCore
import Testing

@testable import SwitchboardHummingbird

struct SocketAddressIPTextTests {
    @Test(arguments: [
        "0.0.0.0", "127.0.0.1", "1.2.3.4", "9.10.99.100", "10.20.30.40", "192.168.100.9", "100.0.10.255",
        "255.255.255.255",
    ])
    func ipv4IsWrittenAsNIODoesIt(_ ip: String) throws {
        let address = try SocketAddress(ipAddress: ip, port: 443)
        #expect(address.ipText == ip)
        #expect(address.ipText == address.ipAddress)
    }

    @Test func everyOctetIsWrittenAsNIODoesIt() throws {
        for octet in 0...255 {
            let address = try SocketAddress(ipAddress: "\(octet).\(255 - octet).\(octet / 2).7", port: 80)
            #expect(address.ipText == address.ipAddress)
        }
    }

    @Test func ipv6IsLeftToNIO() throws {
        let address = try SocketAddress(ipAddress: "::1", port: 80)
        #expect(address.ipText == "::1")
    }
}
