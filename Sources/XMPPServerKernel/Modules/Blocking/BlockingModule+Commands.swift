import Logging
import XMPPCore

// The blocklist IQs (XEP-0191 §3.2–3.5): retrieve, block, unblock, unblock all; then the presence the contacts
// see and the pushes to the user's interested resources.
extension BlockingModule {
    static func handle(_ request: IQRequest, cache: BlocklistCache, maxItems: Int) async throws -> IQReply {
        let kernel = request.kernel
        let user = request.senderUsername
        let payload = request.payload
        switch (request.iq.type, payload.name) {
        case (.get?, "blocklist"):
            let list = try await stored(user, kernel: kernel)
            if let session = request.session { kernel.setState(true, for: wantsPushes, of: session) }
            var reply = Element("blocklist", namespace: namespace)
            for jid in list.sorted { reply.append(item(jid)) }
            return IQReply(reply)
        case (.set?, "block"):
            let jids = try items(of: payload)
            guard !jids.isEmpty else { throw StanzaError(.badRequest, text: "a block names at least one JID") }
            let before = try await stored(user, kernel: kernel)
            var list = before
            _ = list.insert(jids)
            guard list.items.count <= maxItems else {
                throw StanzaError(.resourceConstraint, text: "a blocklist holds at most \(maxItems) JIDs")
            }
            try await save(list, of: user, cache: cache, kernel: kernel)
            let change = Element("block", namespace: namespace, children: jids.map { .element(item($0)) })
            let roster = await kernel.rosterItems(of: request.from.bare)
            return IQReply(afterReply: { [list] in
                changed(change, from: before, to: list, of: request.from.bare, roster: roster, kernel: kernel)
            })
        case (.set?, "unblock"):
            let jids = try items(of: payload)
            let before = try await stored(user, kernel: kernel)
            var list = before
            _ = jids.isEmpty ? list.removeAll() : list.remove(jids)
            try await save(list, of: user, cache: cache, kernel: kernel)
            let change = Element("unblock", namespace: namespace, children: jids.map { .element(item($0)) })
            let roster = await kernel.rosterItems(of: request.from.bare)
            return IQReply(afterReply: { [list] in
                changed(change, from: before, to: list, of: request.from.bare, roster: roster, kernel: kernel)
            })
        default:
            throw StanzaError(.badRequest, text: "expected blocklist (get), block or unblock (set)")
        }
    }

    /// The JIDs of a block or unblock request, normalized; `jid-malformed` if any is not a JID.
    static func items(of payload: Element) throws(StanzaError) -> [JID] {
        var jids: [JID] = []
        for item in payload.children("item", namespace: namespace) {
            guard let raw = item.attribute("jid"), let jid = JID(validating: raw) else {
                throw StanzaError(.jidMalformed, text: "every item needs a valid jid")
            }
            jids.append(jid)
        }
        return jids
    }

    static func item(_ jid: JID) -> Element {
        Element("item", namespace: namespace, attributes: ["jid": jid.description])
    }

    /// The stored list. Changes run one at a time (``SerialEditor``) and read it from storage, not the cache.
    static func stored(_ user: String, kernel: ServerKernel) async throws -> Blocklist {
        try await kernel.storage.userData.value(storageKey, of: user).map(Blocklist.init(document:)) ?? Blocklist()
    }

    static func save(_ list: Blocklist, of user: String, cache: BlocklistCache, kernel: ServerKernel) async throws {
        try await kernel.storage.userData.setValue(list.isEmpty ? nil : list.document, for: storageKey, of: user)
        cache.storeEdited(list, of: user)
        kernel.announceAccountDataChange(user, topic: BlockingModule.storageKey)
    }

    /// After the reply: whoever the change blocks (an item may be a whole domain) and could see the user's presence
    /// (subscribed, or sent directed presence) sees the user go; whoever it unblocks and is subscribed sees the user
    /// again, and the user sees them again if subscribed to them; every resource that fetched the list gets the
    /// change as a push.
    static func changed(_ change: Element, from before: Blocklist, to after: Blocklist, of user: JID, roster items: [RosterEntry],
                        kernel: ServerKernel) {
        for item in items {
            let wasBlocked = before.blocks(item.jid), isBlocked = after.blocks(item.jid)
            if !wasBlocked && isBlocked && item.contactReceivesPresence {
                kernel.sendPresenceOfResources(of: user, to: item.jid, unavailable: true)
            }
            guard wasBlocked && !isBlocked else { continue }
            if item.contactReceivesPresence { kernel.sendPresenceOfResources(of: user, to: item.jid, unavailable: false) }
            if item.userReceivesPresence, kernel.isLocal(item.jid) {
                for own in kernel.registry.entries(of: user) where own.isAvailable {
                    kernel.sendPresenceOfResources(of: item.jid, to: own.session.jid, unavailable: false)
                }
            }
        }
        for own in kernel.registry.entries(of: user) {
            for target in own.directedPresence where !before.blocks(target) && after.blocks(target) {
                var goodbye = Presence(type: .unavailable, to: target, from: own.session.jid).element
                goodbye.setAttribute("to", to: target.description)
                kernel.deliverPresence(goodbye, to: target, eventLoop: own.session.eventLoop)
            }
        }
        push(change, to: user, kernel: kernel)
    }

    /// Sends the change to every resource of the user that fetched the list (§3.3, §3.4, §3.5).
    static func push(_ change: Element, to user: JID, kernel: ServerKernel) {
        for entry in kernel.registry.entries(of: user) where entry.state[wantsPushes] == true {
            let push = IQ(type: .set, to: entry.session.jid, id: "blocklist-push-" + StanzaID.make().prefix(8), payload: change)
            entry.session.deliver(push.element)
        }
    }
}
