import NIOTLS
import XMPPCore
import XMPPServerKernel

/// The client side of a server with virtual hosts: each domain's ``C2SConnectionHandler/Shared`` (its kernel,
/// certificate and negotiation), by domain. A connection starts with the first domain's and takes another's when
/// its TLS SNI (direct TLS) or its first stream header's `to` names that domain.
final class C2SHosts: Sendable {
    private let byDomain: [String: C2SConnectionHandler.Shared]

    /// `hosts` in the server's order; they share the connection counter, delivery batchers and metrics.
    init(_ hosts: [C2SConnectionHandler.Shared]) {
        byDomain = Dictionary(hosts.map { ($0.kernel.configuration.domain, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The host of `domain` as written in a stream header or SNI (normalized here), if the server serves it.
    func shared(for domain: String) -> C2SConnectionHandler.Shared? {
        guard let jid = JID(validating: domain), jid.localpart == nil, jid.resourcepart == nil else { return nil }
        return byDomain[jid.domainpart]
    }

    /// The host an SNI names; nil without one, or for a name the server does not serve (the first domain's
    /// certificate is presented then).
    func shared(for sni: SNIResult) -> C2SConnectionHandler.Shared? {
        guard case .hostname(let name) = sni else { return nil }
        return shared(for: name)
    }
}
