import Logging
import XMPPCore

// Roster storage as the kernel uses it: reading the listed items and saving an item with a roster push
// (RFC 6121 §2.1.6) to every resource that asked for the roster.
extension ServerKernel {
    /// The items of a user's roster, including unlisted ones that only record a pending request (empty, and
    /// logged, when storage fails).
    public func rosterItems(of user: JID) async -> [RosterEntry] {
        guard let username = user.localpart else { return [] }
        do {
            return try await storage.rosters.roster(of: username).items
        } catch {
            logger.error("roster read failed", metadata: ["user": "\(username)", "error": "\(error)"])
            return []
        }
    }

    /// Stores an item and pushes it to the user's interested resources.
    public func save(_ item: RosterEntry, of username: String) async throws {
        let version = try await storage.rosters.setItem(item, of: username)
        if item.isListed { pushRoster(item.element, version: version, to: username) }
    }

    /// Removes an item and pushes the removal.
    public func remove(_ contact: JID, of username: String) async throws {
        let version = try await storage.rosters.removeItem(contact, of: username)
        pushRoster(RosterItem.removalElement(for: contact), version: version, to: username)
    }

    /// Sends a roster push (`<iq type='set'><query><item/></query></iq>`) to each interested resource.
    func pushRoster(_ item: Element, version: Int, to username: String) {
        guard let user = try? JID(localpart: username, domainpart: configuration.domain) else { return }
        var query = Element("query", namespace: RosterNamespace.roster, attributes: ["ver": String(version)])
        query.append(item)
        for entry in registry.entries(of: user) where entry.isInterestedInRoster {
            let push = IQ(type: .set, to: entry.session.jid, payload: query)
            entry.session.deliver(push.element)
        }
    }
}
