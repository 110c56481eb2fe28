import Foundation
import XMPPCore

/// A local archive of one-to-one messages sent and received (XMPPFramework's message archiving), kept in sync
/// with the server's archive (XEP-0313) when it has one: on every new session it fetches what is newer than the
/// newest message it holds, and ``loadEarlier(with:limit:)`` pages further back on demand. Every `chat` or `normal`
/// message with a body is stored once — a live copy, a carbon copy and the server archive's copy of one message are
/// recognized by the archive's stanza id (XEP-0359) or the sender's origin id — and a conversation reads back in
/// time order. With a ``MultiUserChatModule`` beside it, the groupchat messages of the rooms this user is in are
/// stored too, each room as a conversation of kind ``ConversationKind/room``, and on every entry into a room what
/// the room's own archive holds since the room's newest stored message is fetched (``synchronize(room:)``).
///
/// ```swift
/// let archive = client.add(MessageArchiveModule(storage: try SQLiteMessageArchive(path: "archive.sqlite")))
/// let history = try archive.messages(with: romeo, limit: 50)     // oldest first
/// let older = try await archive.loadEarlier(with: romeo)          // from the server
/// ```
public final class MessageArchiveModule: XMPPClientModule {
    /// `urn:xmpp:mam:2`.
    public static let namespace = "urn:xmpp:mam:2"

    /// Where messages are kept.
    public let storage: any MessageArchiveStorage
    /// Whether each new session fetches what the server archived since the newest stored message (and each entry into
    /// a room what the room archived).
    public let synchronizesWithServer: Bool
    /// The most messages fetched per page, and on a first synchronization (the newest ones).
    public let pageSize: Int
    let client = ClientReference()
    /// Results of queries under way, by query id, filled as the result messages arrive from the archive queried.
    let collecting = Locked<[String: (archive: JID, messages: [ServerArchivedMessage])]>([:])
    let synchronized = Broadcast<Int>()
    let writer = StorageWriter(store: "archive")
    private let conversationChanges = Broadcast<[Conversation]>()

    /// Creates the module over `storage` (in memory by default).
    public init(storage: any MessageArchiveStorage = InMemoryMessageArchive(), synchronizesWithServer: Bool = true, pageSize: Int = 100) {
        self.storage = storage
        self.synchronizesWithServer = synchronizesWithServer
        self.pageSize = max(1, pageSize)
    }

    public func attached(to client: XMPPClient) {
        self.client.set(client)
    }

    /// How many new messages each synchronization with the server (the account's archive on each session, a room's
    /// on each entry) stored, as it finishes.
    public var synchronizations: AsyncStream<Int> { synchronized.subscribe() }

    /// Live messages the storage could not keep (they were shown; they will be missing from the local history).
    public var storageFailures: AsyncStream<StorageFailure> { writer.failures }

    /// Returns once the live messages received so far are in the storage. Live messages are stored off the event
    /// loops, in order, a moment after they arrive.
    public func flushStorage() async {
        await writer.flush()
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

    public func sessionStarted(client: XMPPClient) async {
        guard synchronizesWithServer else { return }
        if let added = try? await synchronize() { synchronized.publish(added) }
    }

    // MARK: Live messages

    public func didSend(_ stanza: Element, client: XMPPClient) {
        let account = client.configuration.jid.bare
        guard let action = Self.action(for: stanza, account: account, timestamp: Date(), archiveID: nil, outgoing: true) else { return }
        record(action, account: account)
    }

    public func handle(_ stanza: Element, client: XMPPClient) -> Bool {
        let account = client.configuration.jid.bare
        if stanza.name == "message", let result = stanza.child("result", namespace: Self.namespace) {
            collect(result, from: stanza, account: account)
            return false
        }
        if let room = Self.room(sending: stanza, client: client) {
            if let action = Self.roomAction(for: stanza, in: room, account: account) { record(action, account: account) }
            return false
        }
        if let carbon = ChatModule.unwrapCarbon(stanza, account: account) {
            let archiveID = StanzaIdentifier.stanzaID(in: carbon.message, by: account)?.id
            if let action = Self.action(for: carbon.message, account: account, timestamp: Date(), archiveID: archiveID, outgoing: carbon.sent) {
                record(action, account: account)
            }
            return false
        }
        // An offline message keeps the time it was sent (XEP-0203).
        let stamp = Delay(in: stanza)?.stamp ?? Date()
        let archiveID = StanzaIdentifier.stanzaID(in: stanza, by: account)?.id
        if let action = Self.action(for: stanza, account: account, timestamp: stamp, archiveID: archiveID) { record(action, account: account) }
        return false
    }

    /// Keeps the outgoing message's status: a queued one is stored at once (the conversation shows it waiting), later
    /// statuses update the stored message.
    public func deliveryStatusChanged(_ update: DeliveryUpdate, stanza: Element?, client: XMPPClient) {
        let account = client.configuration.jid.bare
        if update.status == .queued, let stanza,
           let action = Self.action(for: stanza, account: account, timestamp: Date(), archiveID: nil, outgoing: true) {
            // A correction or reaction shows at once too; sending it later applies it again, which changes nothing.
            if case .add(var entry) = action {
                entry.deliveryStatus = .queued
                record(.add(entry), account: account)
            } else {
                record(action, account: account)
            }
            return
        }
        writer.write { [storage] in
            try storage.updateDeliveryStatus(account: account, peer: update.to.bare, stanzaID: update.messageID, status: update.status)
        }
        publishConversations(account: account)
    }

    // MARK: The conversation model

    /// The conversations, newest first, each with its newest message and unread count: now, then after every change
    /// (a message, a correction, a status, a read mark).
    public var conversationUpdates: AsyncStream<[Conversation]> {
        let updates = conversationChanges.subscribe()
        let current = try? conversationList()
        return AsyncStream { continuation in
            if let current { continuation.yield(current) }
            let relay = Task {
                for await list in updates { continuation.yield(list) }
                continuation.finish()
            }
            continuation.onTermination = { _ in relay.cancel() }
        }
    }

    /// The conversations now, newest first.
    public func conversationList() throws -> [Conversation] {
        guard let account = client.value?.configuration.jid.bare else { return [] }
        return try storage.conversationSummaries(account: account)
    }

    /// Marks the conversation with `peer` as seen up to `date` (unread count 0 for what came before). Sending a
    /// displayed marker (``ChatModule/markDisplayed(_:)``) does this too, on every client of the account that sees
    /// the marker's carbon copy.
    public func markRead(_ peer: JID, upTo date: Date = Date()) {
        guard let account = client.value?.configuration.jid.bare else { return }
        record(.read(peer: peer.bare, at: date), account: account)
    }

    /// What a message stanza does to the archive.
    enum Action {
        /// A message to add.
        case add(ArchivedMessage)
        /// A correction, retraction or reactions for the message with `targetID`, sent in `direction`.
        case change(MessageChange, targetID: String, direction: ArchivedMessage.Direction, peer: JID)
        /// A correction, retraction or reactions that `sender` sent in `room` for the message `targetID` names.
        case roomChange(MessageChange, targetID: String, sender: RoomSender, room: JID)
        /// The user saw the conversation with `peer` (a displayed marker this account sent).
        case read(peer: JID, at: Date)
    }

    /// What `stanza` (a message of this account, in or out) does to the archive, or nil when nothing.
    static func action(for stanza: Element, account: JID, timestamp: Date, archiveID: String?, outgoing: Bool? = nil) -> Action? {
        guard stanza.name == "message", let message = Message(element: stanza), message.type == .chat || message.type == .normal,
              !ChatModule.isRoomTraffic(stanza) else { return nil }
        let isOutgoing = outgoing ?? (message.from?.bare == account)
        guard let peer = (isOutgoing ? message.to : message.from)?.bare else { return nil }
        if isOutgoing, stanza.child("displayed", namespace: ChatMarkers.namespace) != nil {
            return .read(peer: peer, at: timestamp)
        }
        if let (targetID, change) = MessageChange.parse(stanza, sender: isOutgoing ? account : peer) {
            return .change(change, targetID: targetID, direction: isOutgoing ? .outgoing : .incoming, peer: peer)
        }
        return entry(for: stanza, account: account, timestamp: timestamp, archiveID: archiveID, outgoing: isOutgoing).map(Action.add)
    }

    /// Performs `action` on the storage; returns whether a message was added.
    func perform(_ action: Action, account: JID) throws -> Bool {
        switch action {
        case .add(let entry):
            return try storage.append(entry)
        case .change(let change, let targetID, let direction, let peer):
            try storage.apply(change, toStanzaID: targetID, direction: direction, account: account, peer: peer)
            return false
        case .roomChange(let change, let targetID, let sender, let room):
            try storage.apply(change, toRoomMessage: targetID, by: sender, account: account, room: room)
            return false
        case .read(let peer, let date):
            try storage.markRead(account: account, peer: peer, upTo: date)
            return false
        }
    }

    /// Performs a live action off the event loop, after those before it, and publishes the conversations.
    private func record(_ action: Action, account: JID) {
        writer.write { [self] in _ = try perform(action, account: account) }
        publishConversations(account: account)
    }

    /// Publishes the conversation list once the writes queued so far are done, when anyone listens.
    func publishConversations(account: JID) {
        writer.write { [storage, conversationChanges] in
            conversationChanges.publish(try storage.conversationSummaries(account: account))
        }
    }

    /// The archive entry for a message stanza of this account, or `nil` when it is not a one-to-one message with a
    /// body. The direction is the account's: a message from the account's bare JID (any resource) is outgoing.
    static func entry(for stanza: Element, account: JID, timestamp: Date, archiveID: String?, outgoing: Bool? = nil) -> ArchivedMessage? {
        guard stanza.name == "message", let message = Message(element: stanza), message.type == .chat || message.type == .normal,
              !ChatModule.isRoomTraffic(stanza), let body = message.body else { return nil }
        let isOutgoing = outgoing ?? (message.from?.bare == account)
        guard let peer = isOutgoing ? message.to : message.from else { return nil }
        let stanzaID = StanzaIdentifier.originID(in: stanza)?.id ?? message.id
        var entry = ArchivedMessage(account: account, peer: peer, direction: isOutgoing ? .outgoing : .incoming, body: body,
                                    thread: message.thread, stanzaID: stanzaID, timestamp: timestamp, archiveID: archiveID)
        entry.replyTo = stanza.child("reply", namespace: MessageChange.replyNamespace)?.attribute("id")
        return entry
    }
}
