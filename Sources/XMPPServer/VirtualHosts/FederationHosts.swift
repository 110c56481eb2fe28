import NIOCore
import NIOSSL
import NIOTLS
import XMPPCore
import XMPPServerKernel

/// The server-to-server side of a server's domains: each domain's kernel, links and TLS context. An incoming stream
/// starts with the first domain's and takes the one its header's `to` names; on the direct TLS port the SNI picks the
/// certificate presented.
final class FederationHosts: Sendable {
    /// One domain's side of federation.
    struct Host: Sendable {
        let kernel: ServerKernel
        let links: ServerLinks
        /// Presents the domain's certificate, asks for the remote's.
        let serverTLS: NIOSSLContext
    }

    /// The first domain's first.
    let hosts: [Host]

    init(_ hosts: [Host]) {
        self.hosts = hosts
    }

    /// The domain that serves `domain` itself or as one of its hosted services.
    func host(serving domain: String) -> Host? {
        hosts.first { $0.kernel.configuration.domain == domain || $0.kernel.isHostedService(domain) }
    }

    /// Adds the TLS handler of a direct TLS connection (XEP-0368) that gives what the remote presents to `presented`:
    /// with one domain (or not `choosingBySNI`) the first domain's at once, else after an SNI reader has seen which
    /// domain's certificate to present.
    func addTLS(to channel: any Channel, presenting presented: PresentedCertificates, choosingBySNI: Bool = true) throws {
        let operations = channel.pipeline.syncOperations
        guard hosts.count > 1, choosingBySNI else {
            return try operations.addHandler(NIOSSLServerHandler(context: hosts[0].serverTLS, customVerificationCallback: presented.callback))
        }
        let name = "s2s-sni"
        try operations.addHandler(ByteToMessageHandler(SNIHandler { [unowned channel, self] sni in
            var host = hosts[0]
            if case .hostname(let name) = sni, let named = JID(validating: name).flatMap({ self.host(serving: $0.domainpart) }) {
                host = named
            }
            do {
                let operations = channel.pipeline.syncOperations
                let reader = try operations.context(name: name)
                try operations.addHandler(NIOSSLServerHandler(context: host.serverTLS, customVerificationCallback: presented.callback),
                                          position: .after(reader.handler))
            } catch {
                // Nothing would read what the SNI reader holds: the connection goes.
                channel.close(promise: nil)
            }
            return channel.eventLoop.makeSucceededVoidFuture()
        }), name: name)
    }
}
