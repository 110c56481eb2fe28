import Foundation
import NIOCore
import XMPPCore
import XMPPTransport

/// A host and port to try, and whether TLS starts at once there.
struct ServiceEndpoint: Sendable, Hashable {
    var host: String
    var port: Int
    /// TLS from the start (XEP-0368; for a WebSocket, `wss://`).
    var directTLS: Bool
    /// For XMPP over WebSocket (RFC 7395): the request target (path and query) to upgrade.
    var webSocketTarget: String?
}

/// Finds where a domain's XMPP service is (RFC 6120 §3.2, XEP-0368): the SRV records of
/// `_xmpps-client._tcp` (direct TLS) and `_xmpp-client._tcp` (STARTTLS), merged in priority order, then
/// the domain itself on port 5222 when there are none.
struct ServiceLocator: Sendable {
    /// Name servers as `address` or `address:port`; empty means the system's: those of `/etc/resolv.conf`, or the
    /// system resolver on Apple platforms.
    var nameServers: [String]
    var group: any EventLoopGroup
    var timeout: TimeAmount = .seconds(3)

    func endpoints(for server: XMPPClient.Configuration.Server, domain: String) async throws -> [ServiceEndpoint] {
        switch server {
        case .host(let host, let port, let directTLS):
            return [ServiceEndpoint(host: host, port: port, directTLS: directTLS)]
        case .webSocket(let url):
            let secure = url.scheme?.lowercased() == "wss"
            guard secure || url.scheme?.lowercased() == "ws", let host = url.host else {
                throw XMPPClientError.connectionFailed(FailureCause(.localConfiguration, "not a ws:// or wss:// URL: \(url)"))
            }
            let path = url.path.isEmpty ? "/" : url.path
            let target = url.query.map { "\(path)?\($0)" } ?? path
            return [ServiceEndpoint(host: host, port: url.port ?? (secure ? 443 : 80), directTLS: secure, webSocketTarget: target)]
        case .automatic:
            let fallback = ServiceEndpoint(host: domain, port: 5222, directTLS: false)
            if domain.isIPLiteral || domain == "localhost" { return [fallback] }
            async let direct = lookup("_xmpps-client._tcp.\(domain)")
            async let startTLS = lookup("_xmpp-client._tcp.\(domain)")
            // A single record with target "." says the service is not offered there (RFC 2782).
            let usable = SRVLookup.merged(directTLS: await direct, startTLS: await startTLS)
            guard !usable.isEmpty else { return [fallback] }
            return usable.map { ServiceEndpoint(host: $0.record.target, port: Int($0.record.port), directTLS: $0.directTLS) }
        }
    }

    /// The SRV records of `name`, or none when no name server answers. On Apple platforms, without configured name
    /// servers, the system's resolver answers (dnssd), which knows the device's DNS settings.
    func lookup(_ name: String) async -> [DNSMessage.SRVRecord] {
        #if canImport(Network)
        if nameServers.isEmpty { return await SystemSRVResolver.records(of: name, timeout: timeout) }
        #endif
        return await SRVLookup(nameServers: nameServers, group: group, timeout: timeout).records(of: name)
    }
}
