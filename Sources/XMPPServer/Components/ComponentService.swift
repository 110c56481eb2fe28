import NIOCore
import XMPPCore
import XMPPServerKernel

/// An external component's domain (XEP-0114) as the kernel sees it: a hosted service whose stanzas go to the
/// component's connection, or bounce with `service-unavailable` while it is not connected.
struct ComponentService: HostedService {
    let domain: String
    var displayName: String { domain }
    let links: ComponentLinks

    func receive(_ stanza: Element, to: JID, kernel: ServerKernel, eventLoop: any EventLoop) -> EventLoopFuture<Void>? {
        let domain = domain
        let sent = links.send(stanza, to: domain) {
            _ = Self.bounce(stanza, to: to, domain: domain, kernel: kernel, eventLoop: eventLoop)
        }
        return sent ? nil : Self.bounce(stanza, to: to, domain: domain, kernel: kernel, eventLoop: eventLoop)
    }

    /// Answers `stanza` with `service-unavailable`: the component is not connected (or its connection went while the
    /// stanza was being written).
    private static func bounce(_ stanza: Element, to: JID, domain: String, kernel: ServerKernel,
                               eventLoop: any EventLoop) -> EventLoopFuture<Void>? {
        guard stanza.mayBeAnsweredWithError, let from = stanza.attribute("from").flatMap(JID.init(validating:)) else {
            return nil
        }
        var reply = kernel.errorReply(to: stanza, StanzaError(.serviceUnavailable, text: "\(domain) is not connected"))
        reply.setAttribute("from", to: to.description)
        return kernel.deliverFromService(reply, to: from, eventLoop: eventLoop)
    }
}

/// External components (XEP-0114): each configured domain (`components = DOMAIN=SECRET, ...`) is a hosted service
/// of the kernel, served by whichever component connects to the component port with the domain's secret.
struct ComponentModule: ServerModule {
    let name = "components"
    let specifications = ["XEP-0114 1.6"]
    let domains: [String]
    let links: ComponentLinks

    func activate(in host: ModuleHost) {
        for domain in domains where domain != host.configuration.domain {
            host.addService(ComponentService(domain: domain, links: links))
        }
    }
}
