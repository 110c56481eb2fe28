import XMPPCore
import XMPPServerKernel

/// The SOCKS5 bytestreams proxy (XEP-0065) at `proxy_domain` (`proxy.<domain>`): file transfers as XMPPFramework,
/// Spark and slixmpp negotiate them (XEP-0096 stream initiation, XEP-0260 Jingle SOCKS5) go through it when the two
/// clients cannot reach each other. Its SOCKS5 listener (``ProxyListenerService``) is on `proxy_port`.
public struct ProxyModule: ServerModule {
    public let name = "proxy65"
    public let specifications = ["XEP-0065 1.8.2"]

    /// `proxy_domain`.
    public static let domain = ConfigOption.string(
        "proxy_domain", default: "", "the SOCKS5 proxy's domain; empty means proxy.DOMAIN, off turns the proxy off")
    /// `proxy_port`.
    public static let port = ConfigOption.integer("proxy_port", default: 7777, range: 0...65535, "the SOCKS5 proxy's port (0: any free port)")
    /// `proxy_host`.
    public static let host = ConfigOption.string(
        "proxy_host", default: "", "the address clients are told to connect to; empty means the first bind address (or the domain when that is a wildcard)")
    /// `proxy_max_transfers`.
    public static let maxTransfers = ConfigOption.integer(
        "proxy_max_transfers", default: 100, range: 1...100_000, "transfers the proxy relays at once (waiting connections count); more are refused")
    /// `proxy_bytes_per_second`.
    public static let bytesPerSecond = ConfigOption.integer(
        "proxy_bytes_per_second", default: 10_485_760, range: 1024...1_073_741_824, "how fast each side of a relayed transfer is read")

    public var options: [ConfigOption] { [Self.domain, Self.port, Self.host, Self.maxTransfers, Self.bytesPerSecond] }

    /// Creates the module.
    public init() {}

    public func activate(in host: ModuleHost) {
        let configured: String = host.option(Self.domain)
        guard configured != "off" else { return }
        let domain = configured.isEmpty ? "proxy.\(host.configuration.domain)" : configured.lowercased()
        guard domain != host.configuration.domain, JID(validating: domain) != nil else { return }
        host.addService(ProxyService(domain: domain, pairing: ProxyPairing(maxTransfers: host.option(Self.maxTransfers)),
                                     streamhost: Locked(nil), bytesPerSecond: host.option(Self.bytesPerSecond)))
    }

    /// The running proxy service, if the module is active.
    static func service(of kernel: ServerKernel) -> ProxyService? {
        for domain in kernel.hostedServiceDomains {
            if let jid = try? JID(domain), let proxy = kernel.service(for: jid) as? ProxyService { return proxy }
        }
        return nil
    }
}
