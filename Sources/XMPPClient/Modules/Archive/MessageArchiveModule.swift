import Foundation
import XMPPCore

/// A local archive of one-to-one messages sent and received (XMPPFramework's message archiving): every
/// `chat` or `normal` message with a body is stored, and a conversation reads back in time order.
///
/// ```swift
/// let archive = client.add(MessageArchiveModule(storage: try SQLiteMessageArchive(path: "archive.sqlite")))
/// let history = try archive.messages(with: romeo, limit: 50)     // oldest first
/// ```
public final class MessageArchiveModule: XMPPClientModule {
    /// Where messages are kept.
    public let storage: any MessageArchiveStorage
    private let client = ClientReference()

    /// Creates the module over `storage` (in memory by default).
    public init(storage: any MessageArchiveStorage = InMemoryMessageArchive()) {
        self.storage = storage
    }

    public func attached(to client: XMPPClient) {
        self.client.set(client)
    }

    /// The conversation with `peer`, oldest first: the newest `limit` messages when given, before `before`
    /// when given (to page backwards).
    public func messages(with peer: JID, before: Date? = nil, limit: Int? = nil) throws -> [ArchivedMessage] {
        guard let account = client.value?.configuration.jid.bare else { return [] }
        return try storage.messages(account: account, peer: peer.bare, before: before, limit: limit)
    }

    /// The peers with stored conversations, most recent first.
    public func conversations() throws -> [JID] {
        guard let account = client.value?.configuration.jid.bare else { return [] }
        return try storage.conversations(account: account)
    }

    public func didSend(_ stanza: Element, client: XMPPClient) {
        guard let message = Self.archivable(stanza), let to = message.to else { return }
        let account = client.configuration.jid.bare
        try? storage.append(ArchivedMessage(account: account, peer: to, direction: .outgoing, body: message.body ?? "",
                                            thread: message.thread, stanzaID: message.id))
    }

    public func handle(_ stanza: Element, client: XMPPClient) -> Bool {
        guard let message = Self.archivable(stanza), let from = message.from else { return false }
        let account = client.configuration.jid.bare
        // An offline message keeps the time it was sent (XEP-0203).
        let stamp = Delay(in: stanza)?.stamp
        try? storage.append(ArchivedMessage(account: account, peer: from, direction: .incoming, body: message.body ?? "",
                                            thread: message.thread, stanzaID: message.id, timestamp: stamp ?? Date()))
        return false
    }

    private static func archivable(_ stanza: Element) -> Message? {
        guard stanza.name == "message", let message = Message(element: stanza), message.type == .chat || message.type == .normal,
              message.body != nil else { return nil }
        return message
    }
}
