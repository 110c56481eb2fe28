import Foundation
import XMPPCore

/// A message in the local archive.
public struct ArchivedMessage: Sendable, Hashable, Codable {
    /// Which way it went.
    public enum Direction: String, Sendable, Hashable, Codable {
        /// Sent by this account (in a room: under this user's nickname, as the room reflected it).
        case outgoing
        /// Received by this account.
        case incoming
    }

    /// The account's bare JID.
    public var account: JID
    /// The other party's bare JID: the conversation (a contact, or a room).
    public var peer: JID
    /// Whether the conversation is one-to-one or a room's.
    public var kind: ConversationKind = .chat
    /// For a room message: the sender's nickname in the room.
    public var nickname: String?
    /// For a room message: the sender's occupant id (XEP-0421), when the room gives them.
    public var occupantID: String?
    /// Which way it went.
    public var direction: Direction
    /// The text.
    public var body: String
    /// The thread, if any.
    public var thread: String?
    /// The stanza id, if any (the sender's; with an origin id, XEP-0359, the origin id).
    public var stanzaID: String?
    /// When it was sent or received (or the delay stamp of an offline message, XEP-0203).
    public var timestamp: Date
    /// The id the server's archive gave it (XEP-0313/XEP-0359), once known: what synchronization pages from.
    public var archiveID: String?
    /// For a message this client sent: how far it got (queued in the outbox, sent, acknowledged, delivered, read,
    /// failed). `nil` for incoming messages and for what other clients of the account sent.
    public var deliveryStatus: DeliveryStatus?
    /// The id of the message this one answers (XEP-0461), if any.
    public var replyTo: String?
    /// Reactions (XEP-0444): each reactor's bare JID (in a room, their nickname) with their emoji.
    public var reactions: [String: [String]] = [:]
    /// Whether the sender corrected the text (XEP-0308); ``body`` is the corrected one.
    public var isEdited = false
    /// Whether the sender retracted it (XEP-0424); the body is then empty.
    public var isRetracted = false

    /// Creates an entry.
    public init(account: JID, peer: JID, direction: Direction, body: String, thread: String? = nil, stanzaID: String? = nil,
                timestamp: Date = Date(), archiveID: String? = nil, deliveryStatus: DeliveryStatus? = nil) {
        self.account = account.bare
        self.peer = peer.bare
        self.direction = direction
        self.body = body
        self.thread = thread
        self.stanzaID = stanzaID
        self.timestamp = timestamp
        self.archiveID = archiveID
        self.deliveryStatus = deliveryStatus
    }

    /// Whether `other` is the same message (the same archive id, or the same conversation, direction and stanza id).
    func isSameMessage(as other: ArchivedMessage) -> Bool {
        guard account == other.account else { return false }
        if let archiveID, let otherID = other.archiveID { return archiveID == otherID }
        guard let stanzaID, let otherStanzaID = other.stanzaID else { return false }
        return stanzaID == otherStanzaID && peer == other.peer && direction == other.direction
    }
}

/// Where the archive is kept. Implementations: ``InMemoryMessageArchive``, and `SQLiteMessageArchive` in
/// the `XMPPClientSQLite` library.
public protocol MessageArchiveStorage: Sendable {
    /// Stores a message, unless it is stored already (the same archive id, or the same conversation, direction and
    /// stanza id: a live copy and the server archive's copy of one message); a copy that brings the archive id the
    /// stored one lacked fills it in. Returns whether the message was new.
    @discardableResult func append(_ message: ArchivedMessage) throws -> Bool
    /// The archive id of the newest stored one-to-one message that has one: where synchronization with the account's
    /// archive on the server resumes (room messages carry the room's archive ids, not the account's).
    func latestArchiveID(account: JID) throws -> String?
    /// The archive id of the oldest stored message with `peer` that has one: where paging backwards continues.
    func oldestArchiveID(account: JID, peer: JID) throws -> String?
    /// The archive id of the newest stored message with `peer` that has one: where synchronization with a room's own
    /// archive resumes.
    func newestArchiveID(account: JID, peer: JID) throws -> String?
    /// The messages between `account` and `peer` (bare JIDs), oldest first; at most the newest `limit`
    /// when given, and only those before `before` when given.
    func messages(account: JID, peer: JID, before: Date?, limit: Int?) throws -> [ArchivedMessage]
    /// The peers `account` has conversations with, most recent first.
    func conversations(account: JID) throws -> [JID]
    /// Records how far an outgoing message (by its stanza id) to `peer` got.
    func updateDeliveryStatus(account: JID, peer: JID, stanzaID: String, status: DeliveryStatus) throws
    /// Applies a correction, retraction or reactions to the message with stanza id `stanzaID` in the conversation
    /// with `peer`. A correction or retraction applies only to a message in `direction` (its sender's own); returns
    /// whether a message changed.
    @discardableResult
    func apply(_ change: MessageChange, toStanzaID stanzaID: String, direction: ArchivedMessage.Direction, account: JID, peer: JID) throws -> Bool
    /// Applies a correction, retraction or reactions that `sender` sent in `room` to the room message named `id`: by the
    /// room's stanza id (XEP-0359; what retractions and reactions name) or by its sender's id (what corrections name).
    /// A correction or retraction applies only to the sender's own message (see ``ArchivedMessage/apply(_:by:)``);
    /// returns whether a message changed.
    @discardableResult
    func apply(_ change: MessageChange, toRoomMessage id: String, by sender: RoomSender, account: JID, room: JID) throws -> Bool
    /// Records that the user has seen the conversation with `peer` up to `date` (later marks only move it forward).
    func markRead(account: JID, peer: JID, upTo date: Date) throws
    /// Every conversation with its newest message and unread count, most recent first.
    func conversationSummaries(account: JID) throws -> [Conversation]
}

/// An archive kept in memory for the process's lifetime.
public final class InMemoryMessageArchive: MessageArchiveStorage {
    private let stored = Locked<[ArchivedMessage]>([])
    private let readPoints = Locked<[String: Date]>([:])

    /// Creates an empty archive.
    public init() {}

    @discardableResult public func append(_ message: ArchivedMessage) -> Bool {
        stored.withLock { stored in
            if let index = stored.firstIndex(where: { $0.isSameMessage(as: message) }) {
                if stored[index].archiveID == nil { stored[index].archiveID = message.archiveID }
                return false
            }
            stored.append(message)
            return true
        }
    }

    public func latestArchiveID(account: JID) -> String? {
        stored.withLock { stored in
            stored.filter { $0.account == account.bare && $0.kind == .chat && $0.archiveID != nil }.max { $0.timestamp < $1.timestamp }?.archiveID
        }
    }

    public func oldestArchiveID(account: JID, peer: JID) -> String? {
        stored.withLock { stored in
            stored.filter { $0.account == account.bare && $0.peer == peer.bare && $0.archiveID != nil }
                .min { $0.timestamp < $1.timestamp }?.archiveID
        }
    }

    public func newestArchiveID(account: JID, peer: JID) -> String? {
        stored.withLock { stored in
            stored.filter { $0.account == account.bare && $0.peer == peer.bare && $0.archiveID != nil }
                .max { $0.timestamp < $1.timestamp }?.archiveID
        }
    }

    public func messages(account: JID, peer: JID, before: Date?, limit: Int?) -> [ArchivedMessage] {
        let matching = stored.withLock { messages in
            messages.filter { message in
                message.account == account.bare && message.peer == peer.bare && before.map { message.timestamp < $0 } ?? true
            }
        }
        // A stable sort keeps arrival order for equal timestamps.
        let sorted = matching.enumerated()
            .sorted { ($0.element.timestamp, $0.offset) < ($1.element.timestamp, $1.offset) }
            .map { $0.element }
        guard let limit else { return sorted }
        return Array(sorted.suffix(limit))
    }

    public func updateDeliveryStatus(account: JID, peer: JID, stanzaID: String, status: DeliveryStatus) {
        stored.withLock { stored in
            for index in stored.indices where stored[index].account == account.bare && stored[index].peer == peer.bare
                && stored[index].stanzaID == stanzaID && stored[index].direction == .outgoing {
                stored[index].deliveryStatus = status
            }
        }
    }

    @discardableResult
    public func apply(_ change: MessageChange, toStanzaID stanzaID: String, direction: ArchivedMessage.Direction, account: JID, peer: JID) -> Bool {
        stored.withLock { stored in
            guard let index = stored.lastIndex(where: {
                $0.account == account.bare && $0.peer == peer.bare && $0.stanzaID == stanzaID
            }) else { return false }
            return stored[index].apply(change, direction: direction)
        }
    }

    @discardableResult
    public func apply(_ change: MessageChange, toRoomMessage id: String, by sender: RoomSender, account: JID, room: JID) -> Bool {
        stored.withLock { stored in
            let named = stored.indices.reversed().filter {
                stored[$0].account == account.bare && stored[$0].peer == room.bare && stored[$0].kind == .room && stored[$0].isNamed(by: id)
            }
            var candidates = named.map { stored[$0] }
            guard let changed = ArchivedMessage.apply(change, by: sender, toFirstOf: &candidates, named: id) else { return false }
            stored[named[changed]] = candidates[changed]
            return true
        }
    }

    public func markRead(account: JID, peer: JID, upTo date: Date) {
        readPoints.withLock { points in
            let key = "\(account.bare) \(peer.bare)"
            points[key] = max(points[key] ?? date, date)
        }
    }

    public func conversationSummaries(account: JID) -> [Conversation] {
        conversations(account: account).map { peer in
            let messages = messages(account: account, peer: peer, before: nil, limit: nil)
            let readUpTo = readPoints.withLock { $0["\(account.bare) \(peer.bare)"] }
            let unread = messages.filter { message in
                message.direction == .incoming && !message.isRetracted && readUpTo.map { message.timestamp > $0 } ?? true
            }
            return Conversation(peer: peer, kind: messages.last?.kind ?? .chat, lastMessage: messages.last, unreadCount: unread.count,
                                readUpTo: readUpTo)
        }
    }

    public func conversations(account: JID) -> [JID] {
        let messages = stored.withLock { $0.filter { $0.account == account.bare } }
        var latest: [JID: Date] = [:]
        for message in messages { latest[message.peer] = max(latest[message.peer] ?? message.timestamp, message.timestamp) }
        return latest.sorted { $0.value > $1.value }.map(\.key)
    }
}

extension ArchivedMessage {
    /// Applies `change`, sent in direction `changer`: a correction or retraction only by the message's own sender,
    /// nothing to a retracted message. Returns whether anything changed. Storages use it to implement
    /// ``MessageArchiveStorage/apply(_:toStanzaID:direction:account:peer:)``.
    public mutating func apply(_ change: MessageChange, direction changer: Direction) -> Bool {
        switch change {
        case .correction(let body):
            guard direction == changer, !isRetracted else { return false }
            self.body = body
            isEdited = true
        case .retraction:
            guard direction == changer, !isRetracted else { return false }
            body = ""
            isRetracted = true
            reactions = [:]
        case .reactions(let reactor, let emoji):
            guard !isRetracted else { return false }
            reactions[reactor.bare.description] = emoji.isEmpty ? nil : emoji
        }
        return true
    }
}
