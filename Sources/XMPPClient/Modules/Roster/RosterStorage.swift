import XMPPCore

/// Where a roster is kept between sessions, with its version (XEP-0237), so a login only receives changes.
public protocol RosterStorage: Sendable {
    /// The stored version and items, or `nil` when nothing is stored for `account`.
    func load(account: JID) throws -> (version: String, items: [RosterItem])?
    /// Replaces everything stored for `account`. Called off the event loops, one save at a time.
    func save(account: JID, version: String?, items: [RosterItem]) throws
}

/// A roster kept in memory for the process's lifetime.
public final class InMemoryRosterStorage: RosterStorage {
    private let rosters = Locked<[JID: (version: String?, items: [RosterItem])]>([:])

    /// Creates an empty storage.
    public init() {}

    public func load(account: JID) -> (version: String, items: [RosterItem])? {
        rosters.withLock { rosters in
            guard let stored = rosters[account.bare], let version = stored.version else { return nil }
            return (version, stored.items)
        }
    }

    public func save(account: JID, version: String?, items: [RosterItem]) {
        rosters.withLock { $0[account.bare] = (version, items) }
    }
}
