import XMPPCore

/// A user's roster as stored: the items and the version string of XEP-0237.
public struct StoredRoster: Sendable, Hashable {
    /// Every item, including those that only record a pending inbound subscription request.
    public var items: [RosterEntry]
    /// The roster version; it changes with every change to the roster.
    public var version: Int

    /// Creates a stored roster.
    public init(items: [RosterEntry], version: Int) {
        self.items = items
        self.version = version
    }
}

/// Where rosters (RFC 6121 §2) and subscription states live.
public protocol RosterStore: Sendable {
    /// The user's roster; an empty roster at version 0 for a user without one.
    func roster(of user: String) async throws -> StoredRoster
    /// One item of the user's roster.
    func item(_ contact: JID, of user: String) async throws -> RosterEntry?
    /// Adds or replaces an item; returns the roster's new version.
    @discardableResult func setItem(_ item: RosterEntry, of user: String) async throws -> Int
    /// Removes an item; returns the roster's new version.
    @discardableResult func removeItem(_ contact: JID, of user: String) async throws -> Int
    /// Removes the whole roster (account deletion).
    func removeRoster(of user: String) async throws
}
