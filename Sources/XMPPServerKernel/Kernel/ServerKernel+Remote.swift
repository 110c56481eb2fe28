import Logging
import NIOCore
import XMPPCore

// Federation as the kernel sees it (RFC 6120 §13, RFC 6121): stanzas for remote domains leave through the
// ``RemoteRouter``; stanzas from remote servers (their domain already authenticated by the server-to-server module)
// come in through ``ServerKernel/processFromRemote(_:from:to:eventLoop:)`` and meet the same rules as local ones.
extension ServerKernel {
    /// Whether a remote router is registered: stanzas to other domains can leave this server.
    public var federates: Bool { remoteRouter != nil }

    /// Hands `element` (whose `from` is at this server: an account, the domain, a hosted service) to the remote router;
    /// `false` when there is none (the caller answers `remote-server-not-found`). Never for this server's domain or a
    /// hosted service's: those are not remote, whatever path got here. Modules use it to address remote contacts (PEP
    /// notifications).
    public func sendRemote(_ element: Element, to: JID) -> Bool {
        guard let remoteRouter else { return false }
        guard !isLocal(to), services[to.domainpart] == nil else { return true }
        remoteRouter.send(element, to: to, kernel: self)
        return true
    }

    /// The error for a stanza to a remote domain when nothing routes there.
    static let noFederation = StanzaError(.remoteServerNotFound, text: "this server does not federate")

    /// Processes a stanza a remote server sent. The caller (the server-to-server stream) has checked that `from` is
    /// at the domain the stream authenticated and that `to` is at this server's domain or a hosted service's.
    /// Returns a future when storage is involved.
    public func processFromRemote(_ stanza: Element, from: JID, to: JID, eventLoop: any EventLoop) -> EventLoopFuture<Void>? {
        if let service = services[to.domainpart] {
            return service.receive(stanza, to: to, kernel: self, eventLoop: eventLoop)
        }
        guard isLocal(to) else { return nil }
        switch stanza.name {
        case "message":
            guard to.localpart != nil else {
                if stanza.attribute("type") != "headline" { bounceToSender(stanza, StanzaError(.serviceUnavailable)) }
                return nil
            }
            return deliverMessage(stanza, to: to, from: from, eventLoop: eventLoop)
        case "presence":
            return run(on: eventLoop) { await self.inboundRemotePresence(stanza, from: from, to: to) }
        case "iq":
            return inboundRemoteIQ(stanza, from: from, to: to, eventLoop: eventLoop)
        default:
            return nil
        }
    }

    private func inboundRemotePresence(_ element: Element, from: JID, to: JID) async {
        switch Presence(element: element)?.type {
        case .available?, .unavailable?, .error?:
            deliverPresence(element, to: to, from: from)
        case .subscribe?, .subscribed?, .unsubscribe?, .unsubscribed?:
            guard to.localpart != nil, let type = Presence(element: element)?.type else { return }
            // Subscription stanzas travel between bare JIDs (RFC 6121 §3.1.3).
            var routed = element
            routed.setAttribute("from", to: from.bare.description)
            routed.setAttribute("to", to: to.bare.description)
            await inboundSubscription(routed, type: type, to: to.bare, from: from.bare)
        case .probe?:
            await answerProbe(from: from.bare, to: to.bare)
        case nil:
            return
        }
    }

    /// A remote contact's server asks for a local user's presence (RFC 6121 §4.3.2): the current presence of each
    /// available resource when the contact is subscribed to it, unavailable presence when none is; `unsubscribed`
    /// when the contact is not subscribed, which tells its server to fix its roster — and the same for an account
    /// that does not exist, so a probe does not tell which do.
    private func answerProbe(from contact: JID, to user: JID) async {
        guard let username = user.localpart else { return }
        let item = try? await storage.rosters.item(contact, of: username)
        guard let item, item.contactReceivesPresence, (try? await storage.accounts.accountExists(username)) == true else {
            _ = sendRemote(Presence(type: .unsubscribed, to: contact, from: user).element, to: contact)
            return
        }
        let available = registry.entries(of: user).filter(\.isAvailable)
        guard !available.isEmpty else {
            sendPresence(Presence(type: .unavailable, to: contact, from: user).element, from: user, to: contact)
            return
        }
        sendPresenceOfResources(of: user, to: contact, unavailable: false)
    }

    /// An IQ from a remote entity: to a full JID it goes to that session; requests to a bare JID or the domain are
    /// answered by the server's handlers, as for a local client asking another account (RFC 6120 §10.5.3.3).
    private func inboundRemoteIQ(_ element: Element, from: JID, to: JID, eventLoop: any EventLoop) -> EventLoopFuture<Void>? {
        guard let iq = IQ(element: element), iq.isValid, let type = iq.type else {
            bounceToSender(element, StanzaError(.badRequest))
            return nil
        }
        if to.isFull {
            if let entry = registry.entry(to) {
                guard let element = filterInbound(element, to: to, from: from) else { return nil }
                entry.session.deliver(element)
            } else if type.isRequest {
                bounceToSender(element, StanzaError(.serviceUnavailable))
            }
            return nil
        }
        guard type.isRequest else {
            // The answer to a request the server sent (``request(_:type:to:timeout:)``); others are dropped.
            if to == domainJID { _ = serverRequests.complete(with: element, from: from) }
            return nil
        }
        return answerRequest(element, from: from, to: to, eventLoop: eventLoop) { reply in
            _ = self.sendRemote(reply, to: from)
        }
    }
}
