import Logging
import XMPPCore

// Roster storage as the kernel uses it: reading the items, and saving or removing one, which the roster hooks
// hear of (the roster module pushes the change, RFC 6121 §2.1.6).
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

    /// Stores an item; the roster hooks hear of the change (the roster module pushes it to interested resources).
    public func save(_ item: RosterEntry, of username: String) async throws {
        var item = item
        if !item.pendingIn { item.pendingRequest = nil }
        let version = try await storage.rosters.setItem(item, of: username)
        if item.isListed { rosterChanged(username, item: item.element, version: version) }
    }

    /// Removes an item; the roster hooks hear of the removal.
    public func remove(_ contact: JID, of username: String) async throws {
        let version = try await storage.rosters.removeItem(contact, of: username)
        rosterChanged(username, item: RosterItem.removalElement(for: contact), version: version)
    }

    private func rosterChanged(_ username: String, item: Element, version: Int) {
        guard !hooks.rosterChanged.isEmpty, let user = try? JID(localpart: username, domainpart: configuration.domain) else { return }
        for hook in hooks.rosterChanged.hooks { hook(user, item, version, self) }
    }
}
