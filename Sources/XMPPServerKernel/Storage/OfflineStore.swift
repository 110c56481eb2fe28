import XMPPCore

/// Where messages for offline users wait (XEP-0160), oldest first.
public protocol OfflineStore: Sendable {
    /// Appends a message unless the user already has `limit` waiting; returns whether it was stored.
    func store(_ message: Element, for user: String, limit: Int) async throws -> Bool
    /// Removes and returns every waiting message, oldest first.
    func takeAll(for user: String) async throws -> [Element]
    /// How many messages are waiting.
    func count(for user: String) async throws -> Int
    /// Drops every waiting message (account deletion).
    func removeAll(for user: String) async throws
}
