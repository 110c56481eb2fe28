import Logging
import NIOCore
import XMPPCore

// Presence (RFC 6121 §4): broadcast to subscribers, probes on initial presence, directed presence, and the
// subscription requests of §3, applied with ``SubscriptionRules`` at the sender's side and then at the
// recipient's.
extension ServerKernel {
    func outboundPresence(_ element: Element, to: JID?, from session: any ClientSession) async {
        let presence = Presence(element: element)
        switch presence?.type {
        case .available?, .unavailable?:
            if let to {
                await directedPresence(element, to: to, from: session)
            } else {
                await broadcast(element, from: session)
            }
        case .subscribe?, .subscribed?, .unsubscribe?, .unsubscribed?:
            guard let to, to.localpart != nil || !isLocal(to) else {
                bounce(element, StanzaError(.badRequest, text: "a subscription request needs a contact's JID"), to: session)
                return
            }
            await outboundSubscription(element, type: presence!.type!, to: to.bare, from: session.jid.bare)
        case .probe?:
            // Probes are the server's business (RFC 6121 §4.3); a client's probe is ignored.
            return
        case .error?:
            // Through the recipient's filters like any presence: an error is no way around a blocklist.
            if let to { deliverPresence(element, to: to) }
        case nil:
            bounce(element, StanzaError(.badRequest, text: "unknown presence type"), to: session)
        }
    }

    // MARK: Broadcast

    private func broadcast(_ element: Element, from session: any ClientSession) async {
        let presence = Presence(element: element)!
        let isAvailable = presence.type == .available
        var broadcastable = element
        broadcastable.setAttribute("to", to: nil)
        guard let previous = registry.update(session, { entry -> (wasAvailable: Bool, directed: Set<JID>) in
            let result = (entry.isAvailable, entry.directedPresence)
            entry.presence = isAvailable ? broadcastable : nil
            entry.priority = presence.priority
            if !isAvailable { entry.directedPresence = [] }
            return result
        }) else { return }
        if session.clusterNode == nil { clusterLink?.presenceChanged(of: session, presence: isAvailable ? broadcastable : nil, priority: presence.priority) }
        if !isAvailable && !previous.wasAvailable {
            // Never available, but directed presence (a chat room, say) still needs revoking.
            for recipient in previous.directed {
                var copy = broadcastable
                copy.setAttribute("to", to: recipient.description)
                sendPresence(copy, from: session.jid, to: recipient, eventLoop: session.eventLoop)
            }
            return
        }

        let user = session.jid.bare
        let items = await rosterItems(of: user)
        var recipients: [JID] = items.filter { $0.contactReceivesPresence }.map(\.jid)
        if !isAvailable {
            let subscribers = Set(recipients)
            recipients += previous.directed.filter { !subscribers.contains($0.bare) }
        }
        for contact in recipients {
            var copy = broadcastable
            copy.setAttribute("to", to: contact.description)
            sendPresence(copy, from: session.jid, to: contact, eventLoop: session.eventLoop)
        }
        // All of the user's available resources see it, the sender included: an entity is implicitly subscribed to
        // its own presence (RFC 6121 §4.2.2, §4.4.2, §4.5.2); clients wait for that echo (avatar updates, web clients).
        for entry in registry.entries(of: user) where entry.isAvailable || entry.session === session {
            var copy = broadcastable
            copy.setAttribute("to", to: entry.session.jid.description)
            entry.session.deliver(copy)
        }
        let kind: PresenceEvent.Kind = !isAvailable ? .unavailable : previous.wasAvailable ? .update : .initial
        presenceBroadcast(kind, of: session, element: broadcastable)

        guard isAvailable && !previous.wasAvailable else { return }
        // Initial presence: probe the contacts the user is subscribed to (answered locally), show the user's
        // other resources, deliver what waited, and re-send pending subscription requests.
        for item in items where item.userReceivesPresence && !isLocal(item.jid) && services[item.jid.domainpart] == nil {
            // A remote contact's server answers for it (RFC 6121 §4.3.1: probes go from the user's bare JID).
            _ = sendRemote(Presence(type: .probe, to: item.jid, from: user).element, to: item.jid)
        }
        for item in items where item.userReceivesPresence {
            for entry in registry.entries(of: item.jid) {
                guard var contactPresence = entry.presence else { continue }
                contactPresence.setAttribute("to", to: session.jid.description)
                guard let allowed = filterOutbound(contactPresence, from: entry.session.jid, to: session.jid, addressed: false),
                      let filtered = filterInbound(allowed, to: session.jid) else { continue }
                session.deliver(filtered)
            }
        }
        for entry in registry.entries(of: user) where entry.session !== session {
            guard var own = entry.presence else { continue }
            own.setAttribute("to", to: session.jid.description)
            session.deliver(own)
        }
        for item in items where item.pendingIn {
            var request = Presence(type: .subscribe, to: user, from: item.jid).element
            for child in item.pendingRequest?.elements() ?? [] { request.append(child) }
            if let request = filterInbound(request, to: session.jid, from: item.jid) { session.deliver(request) }
        }
        for hook in hooks.initialPresence.hooks { await hook(session, self) }
    }

    private func directedPresence(_ element: Element, to: JID, from session: any ClientSession) async {
        guard isLocal(to) else {
            guard federates else { return bounce(element, Self.noFederation, to: session) }
            // Remembered like any directed presence, so the remote entity hears when the session goes.
            if Presence(element: element)?.type == .available {
                guard rememberDirectedPresence(to: to, of: session) else {
                    return bounce(element, StanzaError(.resourceConstraint, text: "directed presence to too many entities"), to: session)
                }
            } else {
                registry.update(session) { $0.directedPresence.remove(to) }
            }
            _ = sendRemote(element, to: to)
            return
        }
        guard let user = to.localpart else { return }
        guard Presence(element: element)?.type == .available else {
            registry.update(session) { $0.directedPresence.remove(to) }
            deliverPresence(element, to: to)
            return
        }
        // The limit first, whatever the target (answering differently for accounts that exist would tell which do),
        // then only accepted targets are remembered: an account that exists (presence to nobody goes nowhere).
        guard hasRoomForDirectedPresence(to: to, of: session) else {
            bounce(element, StanzaError(.resourceConstraint, text: "directed presence to too many entities"), to: session)
            return
        }
        guard (try? await storage.accounts.accountExists(user)) == true else { return }
        _ = rememberDirectedPresence(to: to, of: session)
        deliverPresence(element, to: to)
    }

    /// Delivers a presence to a local JID: one resource for a full JID, every available one for a bare JID, after
    /// the recipient's inbound filters. With `eventLoop`, presence to a hosted service's entity (a room occupant)
    /// reaches the service too.
    public func deliverPresence(_ element: Element, to: JID, from sender: JID? = nil, eventLoop: (any EventLoop)? = nil) {
        if let eventLoop, let service = services[to.domainpart] {
            _ = service.receive(element, to: to, kernel: self, eventLoop: eventLoop)
            return
        }
        guard isLocal(to) else {
            _ = sendRemote(element, to: to)
            return
        }
        if to.isFull {
            guard let entry = registry.entry(to), let element = filterInbound(element, to: to, from: sender) else { return }
            entry.session.deliver(element)
        } else {
            let entries = registry.entries(of: to).filter(\.isAvailable)
            guard !entries.isEmpty, let element = filterInbound(element, to: to, from: sender) else { return }
            for entry in entries { entry.session.deliver(element) }
        }
    }

    /// Sends presence the server fans out on a local user's behalf (broadcast, revocation, answers to
    /// subscriptions): the user's outbound filters decide silently, then it is delivered.
    func sendPresence(_ element: Element, from user: JID, to recipient: JID, eventLoop: (any EventLoop)? = nil) {
        guard let element = filterOutbound(element, from: user, to: recipient, addressed: false) else { return }
        deliverPresence(element, to: recipient, from: user, eventLoop: eventLoop)
    }

    /// Sends the current presence of each of `user`'s available resources to `contact`, or unavailable presence
    /// from each (XEP-0191 sends these on block and unblock).
    public func sendPresenceOfResources(of user: JID, to contact: JID, unavailable: Bool) {
        for entry in registry.entries(of: user) {
            guard var presence = entry.presence else { continue }
            if unavailable {
                presence = Presence(type: .unavailable, from: entry.session.jid).element
            }
            presence.setAttribute("to", to: contact.description)
            if unavailable {
                // The user may have just blocked the contact: the goodbye must still get out.
                deliverPresence(presence, to: contact)
            } else {
                sendPresence(presence, from: entry.session.jid, to: contact)
            }
        }
    }

    // MARK: Subscriptions

    /// Whether the user's roster has room for a new item: a listed contact counts against
    /// ``KernelConfiguration/maxRosterItems``, an unlisted one (a stranger's pending request) against
    /// ``KernelConfiguration/maxPendingSubscriptions``, so strangers cannot use up the user's own roster.
    func rosterHasRoom(_ username: String, listed: Bool) async throws -> Bool {
        let items = try await storage.rosters.roster(of: username).items
        return listed ? items.lazy.filter(\.isListed).count < configuration.maxRosterItems
                      : items.lazy.filter { !$0.isListed }.count < configuration.maxPendingSubscriptions
    }

    func outboundSubscription(_ element: Element, type: Presence.PresenceType, to contact: JID, from user: JID) async {
        guard let username = user.localpart else { return }
        do {
            let existing = try await storage.rosters.item(contact, of: username)
            var item = existing ?? RosterEntry(jid: contact, isListed: type == .subscribe || type == .subscribed)
            let outcome = SubscriptionRules.outbound(type, &item)
            if outcome.changed && existing == nil, try await !rosterHasRoom(username, listed: item.isListed) {
                bounceToSender(element, StanzaError(.resourceConstraint, text: "your roster is full"))
                return
            }
            if outcome.changed { try await save(item, of: username) }
            if outcome.sendUnavailable { sendPresenceOfResources(of: user, to: contact, unavailable: true) }
            guard outcome.forward else { return }
            // Subscription stanzas travel between bare JIDs (RFC 6121 §3.1.2).
            var routed = Presence(type: type, to: contact, from: user).element
            for child in element.elements { routed.append(child) }
            await inboundSubscription(routed, type: type, to: contact, from: user)
            if outcome.sendCurrentPresence { sendPresenceOfResources(of: user, to: contact, unavailable: false) }
        } catch {
            logger.error("subscription update failed", metadata: ["user": "\(username)", "error": "\(error)"])
        }
    }

    func inboundSubscription(_ element: Element, type: Presence.PresenceType, to user: JID, from contact: JID) async {
        guard isLocal(user) else {
            // The contact's server applies the rules at its side (RFC 6121 §3.1.3).
            if !sendRemote(element, to: user), type == .subscribe {
                bounceToSender(element, Self.noFederation)
            }
            return
        }
        guard let username = user.localpart else { return }
        do {
            guard try await storage.accounts.accountExists(username) else {
                // No such account: a request is declined on its behalf (RFC 6121 §3.1.3).
                if type == .subscribe {
                    await inboundSubscription(Presence(type: .unsubscribed, to: contact, from: user).element,
                                              type: .unsubscribed, to: contact, from: user)
                }
                return
            }
            var isFiltered = false
            if !hooks.inboundFilters.isEmpty {
                await prepareInbound(to: user)
                isFiltered = filterInbound(element, to: user, from: contact) == nil
            }
            // A stopped request or approval changes nothing; a stopped cancellation still takes the rights away (the
            // user's roster must not keep receiving what the contact withdrew), it is only not delivered.
            if isFiltered && (type == .subscribe || type == .subscribed) { return }
            let existing = try await storage.rosters.item(contact, of: username)
            var item = existing ?? RosterEntry(jid: contact, isListed: false)
            var outcome = SubscriptionRules.inbound(type, &item)
            // A pending request keeps the words of the latest request, for its delivery at the next login.
            if item.pendingIn && type == .subscribe, item.pendingRequest != SubscriptionRequestNote(request: element) {
                item.pendingRequest = SubscriptionRequestNote(request: element)
                outcome.changed = true
            }
            if outcome.changed && existing == nil, try await !rosterHasRoom(username, listed: item.isListed) {
                // Nowhere to record the request: dropped, so nobody can grow a roster past its limit from outside.
                logger.notice("subscription request dropped: roster full", metadata: ["user": "\(username)", "from": "\(contact)"])
                return
            }
            if outcome.changed { try await save(item, of: username) }
            if isFiltered { return }
            if outcome.forward { deliverPresence(element, to: user) }
            if outcome.sendUnavailable { sendPresenceOfResources(of: user, to: contact, unavailable: true) }
            if outcome.autoReplySubscribed {
                await inboundSubscription(Presence(type: .subscribed, to: contact, from: user).element,
                                          type: .subscribed, to: contact, from: user)
            }
            // Answered on the user's behalf: the contact is (now) subscribed, so it gets the current presence.
            if outcome.autoReplySubscribed {
                sendPresenceOfResources(of: user, to: contact, unavailable: false)
            }
        } catch {
            logger.error("subscription update failed", metadata: ["user": "\(username)", "error": "\(error)"])
        }
    }
}
