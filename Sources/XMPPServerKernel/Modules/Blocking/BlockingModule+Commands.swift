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
            var list = try await stored(user, kernel: kernel)
            let added = list.insert(jids)
            guard list.items.count <= maxItems else {
                throw StanzaError(.resourceConstraint, text: "a blocklist holds at most \(maxItems) JIDs")
            }
            try await save(list, of: user, cache: cache, kernel: kernel)
            let change = Element("block", namespace: namespace, children: jids.map { .element(item($0)) })
            let roster = await kernel.rosterItems(of: request.from.bare)
            return IQReply(afterReply: {
                changed(change, blocked: added, unblocked: [], of: request.from.bare, roster: roster, kernel: kernel)
            })
        case (.set?, "unblock"):
            let jids = try items(of: payload)
            var list = try await stored(user, kernel: kernel)
            let removed = jids.isEmpty ? list.removeAll() : list.remove(jids)
            try await save(list, of: user, cache: cache, kernel: kernel)
            let change = Element("unblock", namespace: namespace, children: jids.map { .element(item($0)) })
            let roster = await kernel.rosterItems(of: request.from.bare)
            return IQReply(afterReply: {
                changed(change, blocked: [], unblocked: removed, of: request.from.bare, roster: roster, kernel: kernel)
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

    /// The stored list (always read from storage for changes, so two sessions' edits never overwrite each other
    /// with a stale copy).
    static func stored(_ user: String, kernel: ServerKernel) async throws -> Blocklist {
        try await kernel.storage.userData.value(storageKey, of: user).map(Blocklist.init(document:)) ?? Blocklist()
    }

    static func save(_ list: Blocklist, of user: String, cache: BlocklistCache, kernel: ServerKernel) async throws {
        try await kernel.storage.userData.setValue(list.isEmpty ? nil : list.document, for: storageKey, of: user)
        cache.store(list, of: user)
    }

    /// After the reply: contacts subscribed to the user's presence see it go (block) or come back (unblock), the
    /// user sees an unblocked contact's presence again if subscribed to it, and every resource that fetched the
    /// list gets the change as a push.
    static func changed(_ change: Element, blocked: [JID], unblocked: [JID], of user: JID, roster items: [RosterEntry],
                        kernel: ServerKernel) {
        for jid in blocked where items.contains(where: { $0.jid == jid && $0.contactReceivesPresence }) {
            kernel.sendPresenceOfResources(of: user, to: jid, unavailable: true)
        }
        for jid in unblocked {
            guard let item = items.first(where: { $0.jid == jid }) else { continue }
            if item.contactReceivesPresence { kernel.sendPresenceOfResources(of: user, to: jid, unavailable: false) }
            if item.userReceivesPresence, kernel.isLocal(jid) {
                for own in kernel.registry.entries(of: user) where own.isAvailable {
                    kernel.sendPresenceOfResources(of: jid, to: own.session.jid, unavailable: false)
                }
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
