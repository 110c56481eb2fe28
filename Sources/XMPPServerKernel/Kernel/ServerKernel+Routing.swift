import NIOCore
import XMPPCore

// The entry point for stanzas from clients (RFC 6120 §8.1.2, §10): stamp `from`, check `to`, and dispatch by
// stanza kind.
extension ServerKernel {
    /// Processes a stanza a bound client sent. Returns `nil` when it was fully handled on the spot, or a future
    /// that completes on the session's event loop once it has been (the session sends nothing else of this
    /// client's meanwhile).
    public func process(_ stanza: Element, from session: any ClientSession) -> EventLoopFuture<Void>? {
        if !hooks.senderThrottles.isEmpty, let wait = senderThrottle(on: session.eventLoop) {
            return wait.flatMap { self.process(stanza, from: session) ?? session.eventLoop.makeSucceededVoidFuture() }
        }
        var element = stanza
        // The server always stamps the full JID of the session (RFC 6120 §8.1.2.1), whatever the client wrote.
        element.setAttribute("from", to: session.jid.description)
        var to: JID?
        if let raw = element.attribute("to") {
            guard let jid = JID(validating: raw) else {
                bounce(element, StanzaError(.jidMalformed), to: session)
                return nil
            }
            to = jid
        }
        if !hooks.outboundFilters.isEmpty {
            guard let filtered = filterOutbound(element, from: session.jid, to: to ?? session.jid.bare, addressed: to != nil) else {
                return nil
            }
            element = filtered
        }
        if let to, let service = services[to.domainpart] {
            return routeToService(service, element, to: to, from: session)
        }
        switch element.name {
        case "message":
            return routeMessage(element, to: to ?? session.jid.bare, from: session)
        case "presence":
            let (presence, addressee) = (element, to)
            return run(on: session.eventLoop) { await self.outboundPresence(presence, to: addressee, from: session) }
        case "iq":
            return processIQ(element, to: to, from: session)
        default:
            return nil
        }
    }

    /// Hands a stanza to a hosted service. Available and unavailable presence is remembered as directed presence,
    /// so the service hears when the session ends (a room removes the occupant).
    private func routeToService(_ service: any HostedService, _ element: Element, to: JID,
                                from session: any ClientSession) -> EventLoopFuture<Void>? {
        if element.name == "presence" {
            switch Presence(element: element)?.type {
            case .available?:
                guard rememberDirectedPresence(to: to, of: session, replacingSameBareJID: service.presenceIsOnePerBareJID) else {
                    bounce(element, StanzaError(.resourceConstraint, text: "directed presence to too many entities"), to: session)
                    return nil
                }
            case .unavailable?: registry.update(session) { $0.directedPresence.remove(to) }
            default: break
            }
        }
        return service.receive(element, to: to, kernel: self, eventLoop: session.eventLoop)
    }

    /// Records that `session` sent available presence to `target`, so it can be revoked when the session goes
    /// (RFC 6121 §4.6); `false` when the session is at ``KernelConfiguration/maxDirectedPresence`` already. With
    /// `replacingSameBareJID`, `target` takes the place of any remembered full JID with its bare JID (a nickname
    /// change in a room), so changes do not use up the limit.
    func rememberDirectedPresence(to target: JID, of session: any ClientSession, replacingSameBareJID: Bool = false) -> Bool {
        let limit = configuration.maxDirectedPresence
        return registry.update(session) { entry -> Bool in
            if replacingSameBareJID, !entry.directedPresence.contains(target) {
                let bare = target.bare
                entry.directedPresence = entry.directedPresence.filter { $0.bare != bare }
            }
            guard entry.directedPresence.contains(target) || entry.directedPresence.count < limit else { return false }
            entry.directedPresence.insert(target)
            return true
        } ?? false
    }

    /// Whether `session` may send available presence to one more target (or already counts `target`).
    func hasRoomForDirectedPresence(to target: JID, of session: any ClientSession) -> Bool {
        let limit = configuration.maxDirectedPresence
        return registry.update(session) { $0.directedPresence.contains(target) || $0.directedPresence.count < limit } ?? false
    }

    /// Answers a stanza with an error, unless it is itself an error (RFC 6120 §8.3.1: never answer an error).
    func bounce(_ element: Element, _ error: StanzaError, to session: any ClientSession) {
        guard Self.mayAnswerWithError(element) else { return }
        var reply = errorReply(to: element, error)
        reply.setAttribute("to", to: session.jid.description)
        session.deliver(reply)
    }

    /// Whether a stanza may be answered with an error: never an error itself, nor an iq result.
    static func mayAnswerWithError(_ element: Element) -> Bool { element.mayBeAnsweredWithError }

    /// The error reply to a stanza, addressed back to its sender, with the original payload (except for presence)
    /// so the sender can tell which request failed.
    public func errorReply(to element: Element, _ error: StanzaError) -> Element {
        element.errorReply(error, keepingPayload: element.name != "presence")
    }

    /// Sends an error back to the original sender of `element`, wherever they are on this server (never for an
    /// error or an IQ result).
    public func bounceToSender(_ element: Element, _ error: StanzaError) {
        guard Self.mayAnswerWithError(element), let from = element.attribute("from").flatMap({ JID(validating: $0) }) else { return }
        deliverToFullOrBare(errorReply(to: element, error), to: from)
    }

    /// Delivers to one full JID if online, else to every available resource of the bare JID. Used for what the
    /// server itself sends (errors, bounces): no filters run.
    func deliverToFullOrBare(_ element: Element, to jid: JID) {
        guard isLocal(jid) else {
            _ = sendRemote(element, to: jid)
            return
        }
        if jid.isFull, let entry = registry.entry(jid) {
            entry.session.deliver(element)
            return
        }
        for entry in registry.entries(of: jid.bare) where entry.isAvailable {
            entry.session.deliver(element)
        }
    }
}
