#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 network in CIDR notation (`10.0.0.0/8`, `fd00::/8`), or one address (`127.0.0.1`).
///
/// IPv4 addresses are compared as IPv4-mapped IPv6 addresses, so `127.0.0.1/32` also matches
/// `::ffff:127.0.0.1`.
public struct IPAddressRange: Sendable, Hashable, CustomStringConvertible {
    private let network: [UInt8]
    private let prefixLength: Int
    public let description: String

    /// Reads `address` or `address/prefix`.
    /// - Returns: `nil` when it is not an IP address or network.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let (bytes, isIPv4) = Self.bytes(of: String(parts[0])) else { return nil }
        let maximum = isIPv4 ? 32 : 128
        var length = maximum
        if parts.count == 2 {
            guard let given = Int(parts[1]), (0...maximum).contains(given) else { return nil }
            length = given
        }
        prefixLength = isIPv4 ? length + 96 : length
        network = Self.masked(bytes, prefixLength)
        description = text
    }

    /// Whether an address (in any textual form) lies in the range.
    public func contains(_ address: String) -> Bool {
        guard let (bytes, _) = Self.bytes(of: address) else { return false }
        return Self.masked(bytes, prefixLength) == network
    }

    /// The 16 bytes of an address (IPv4 mapped into IPv6), and whether it was IPv4. Brackets and an IPv6
    /// zone (`%eth0`) are ignored.
    static func bytes(of text: String) -> ([UInt8], Bool)? {
        var address = text.trimmingCharacters(in: " ")
        if address.hasPrefix("["), address.hasSuffix("]") { address = String(address.dropFirst().dropLast()) }
        if let percent = address.firstIndex(of: "%") { address = String(address[..<percent]) }
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 {
            let value = UInt32(bigEndian: v4.s_addr)
            return ([UInt8](repeating: 0, count: 10) + [0xFF, 0xFF] + [24, 16, 8, 0].map { UInt8((value >> $0) & 0xFF) }, true)
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, address, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        let mapped = bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF
        return (bytes, mapped)
    }

    static func masked(_ bytes: [UInt8], _ prefixLength: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let bits = max(0, min(8, prefixLength - index * 8))
            return bits == 8 ? byte : byte & UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
        }
    }
}
