import Foundation
import XMPPCore

/// A message waiting for a connection, as the outbox keeps it.
public struct QueuedMessage: Sendable, Hashable {
    /// The account that sends it.
    public var account: JID
    /// The message's id.
    public var id: String
    /// The whole stanza, ready to send.
    public var stanza: Element
    /// When it was queued.
    public var queuedAt: Date

    /// Creates an entry.
    public init(account: JID, id: String, stanza: Element, queuedAt: Date = Date()) {
        self.account = account.bare
        self.id = id
        self.stanza = stanza
        self.queuedAt = queuedAt
    }
}

/// Where ``ChatModule`` keeps messages sent while offline until a session takes them, in order. Implementations:
/// ``InMemoryOutbox``, and `SQLiteMessageArchive` (the archive's file keeps them across launches).
public protocol OutboxStorage: Sendable {
    /// Adds a message at the end of `account`'s queue.
    func enqueue(_ message: QueuedMessage) throws
    /// `account`'s queued messages, oldest first.
    func queued(account: JID) throws -> [QueuedMessage]
    /// Removes a message once it was written to a session.
    func remove(id: String, account: JID) throws
}

/// An outbox in memory for the process's lifetime.
public final class InMemoryOutbox: OutboxStorage {
    private let messages = Locked<[QueuedMessage]>([])

    /// Creates an empty outbox.
    public init() {}

    public func enqueue(_ message: QueuedMessage) {
        messages.withLock { $0.append(message) }
    }

    public func queued(account: JID) -> [QueuedMessage] {
        messages.withLock { $0.filter { $0.account == account.bare } }
    }

    public func remove(id: String, account: JID) {
        messages.withLock { $0.removeAll { $0.id == id && $0.account == account.bare } }
    }
}
