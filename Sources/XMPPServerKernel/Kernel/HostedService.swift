import NIOCore
import XMPPCore

/// A service on a domain of its own that the server hosts, such as multi-user chat at `conference.example.com`
/// (and, later, external components). The kernel hands it every stanza addressed to its domain or to an entity on
/// it; the service answers through ``ServerKernel/deliverFromService(_:to:eventLoop:)``.
public protocol HostedService: Sendable {
    /// The domain the service answers for, normalized.
    var domain: String { get }
    /// A human-readable name, listed in the server's disco#items.
    var displayName: String { get }
    /// Handles a stanza whose `to` is on the service's domain; `from` is already stamped with the sender's full
    /// JID. Returns `nil` when done on the spot, or a future completing on `eventLoop` once done (storage).
    func receive(_ stanza: Element, to: JID, kernel: ServerKernel, eventLoop: any EventLoop) -> EventLoopFuture<Void>?
    /// Called once when the server stops, before the sessions close, so the service can tell its users.
    func shutDown(kernel: ServerKernel)
    /// Whether a session is present at most once per bare JID of the service (a chat room: one nickname per
    /// session), so available presence to a new full JID replaces the one remembered for the same bare JID.
    var presenceIsOnePerBareJID: Bool { get }
}

extension HostedService {
    /// Does nothing: a service with nothing to say at shutdown need not implement it.
    public func shutDown(kernel: ServerKernel) {}
    /// `false`: each full JID is a presence target of its own.
    public var presenceIsOnePerBareJID: Bool { false }
}

extension ServerKernel {
    /// The hosted service answering for `jid`'s domain, if any.
    public func service(for jid: JID) -> (any HostedService)? {
        services[jid.domainpart]
    }

    /// The domains of the hosted services (`conference.example.com`, ...), sorted: for start-up logs and status pages.
    public var hostedServiceDomains: [String] {
        services.keys.sorted()
    }

    /// Delivers a stanza a hosted service sends to a local user: messages as any message (full or bare JID,
    /// offline storage), presence to the session or the account's available resources, IQs to the full JID;
    /// IQ requests to a bare JID or the domain are answered by the server, and the answer goes back to the
    /// service. Returns a future when storage is involved.
    @discardableResult
    public func deliverFromService(_ element: Element, to: JID, eventLoop: any EventLoop) -> EventLoopFuture<Void>? {
        guard isLocal(to) else {
            // A remote user in a room here, say; another hosted service is not remote.
            if services[to.domainpart] == nil { _ = sendRemote(element, to: to) }
            return nil
        }
        switch element.name {
        case "message": return deliverMessage(element, to: to, eventLoop: eventLoop)
        case "presence": deliverPresence(element, to: to)
        case "iq" where to.isBare && IQ(element: element)?.type?.isRequest == true:
            return answerServiceRequest(element, to: to, eventLoop: eventLoop)
        case "iq":
            if let entry = registry.entry(to) {
                guard let element = filterInbound(element, to: to) else { return nil }
                entry.session.deliver(element)
            } else if let from = element.attribute("from").flatMap({ JID(validating: $0) }), let service = services[from.domainpart],
                      Self.mayAnswerWithError(element), IQ(element: element)?.type?.isRequest == true {
                // The resource is gone: the service hears so, as a client would (RFC 6120 §10.5.3.2). Later, not
                // now: the service may be delivering under a lock of its own.
                let reply = errorReply(to: element, StanzaError(.serviceUnavailable))
                eventLoop.execute { _ = service.receive(reply, to: from, kernel: self, eventLoop: eventLoop) }
            }
        default: deliverToFullOrBare(element, to: to)
        }
        return nil
    }
}
