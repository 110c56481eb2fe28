import XMPPCore

/// A message waiting in an offline store, with the store's id for it.
public struct OfflineMessage: Sendable, Hashable {
    /// The store's id: removing by id removes exactly what was delivered.
    public var id: Int64
    /// The message, as stored (with its delay stamp).
    public var element: Element

    /// Creates a stored message.
    public init(id: Int64, element: Element) {
        self.id = id
        self.element = element
    }
}

/// Where messages for offline users wait (XEP-0160), oldest first. Delivery reads them, writes them to the
/// session, and only then removes the ones written: a session that dies in between loses nothing.
public protocol OfflineStore: Sendable {
    /// Appends a message unless the user already has `limit` messages or `byteLimit` bytes of them waiting;
    /// returns whether it was stored.
    func store(_ message: Element, for user: String, limit: Int, byteLimit: Int) async throws -> Bool
    /// Every waiting message, oldest first, without removing them.
    func pending(for user: String) async throws -> [OfflineMessage]
    /// Removes the messages with these ids (delivered).
    func remove(_ ids: [Int64], for user: String) async throws
    /// How many messages are waiting.
    func count(for user: String) async throws -> Int
    /// Drops every waiting message (account deletion).
    func removeAll(for user: String) async throws
    /// Accounts with messages waiting and messages waiting in all, read without touching storage (`/metrics`,
    /// `xmppctl stats`); nil from a store that cannot tell cheaply.
    var queueFigures: (accounts: Int, messages: Int)? { get }
}

extension OfflineStore {
    public var queueFigures: (accounts: Int, messages: Int)? { nil }
}
