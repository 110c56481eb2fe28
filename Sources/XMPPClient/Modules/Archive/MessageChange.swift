import Foundation
import XMPPCore

/// A message that changes an earlier one instead of adding to the conversation: a correction (XEP-0308), a
/// retraction (XEP-0424) or reactions (XEP-0444). The archive applies it to the message it names.
public enum MessageChange: Sendable, Hashable {
    /// The sender replaced the text of their message.
    case correction(body: String)
    /// The sender took their message back.
    case retraction
    /// `reactor` now reacts with these emoji (an empty list takes their reactions away).
    case reactions(reactor: JID, [String])

    /// `urn:xmpp:message-correct:0`.
    public static let correctionNamespace = "urn:xmpp:message-correct:0"
    /// `urn:xmpp:message-retract:1`.
    public static let retractionNamespace = "urn:xmpp:message-retract:1"
    /// `urn:xmpp:reactions:0`.
    public static let reactionsNamespace = "urn:xmpp:reactions:0"
    /// `urn:xmpp:reply:0` (XEP-0461).
    public static let replyNamespace = "urn:xmpp:reply:0"
    /// The most reactions one person may leave on one message; more are ignored.
    public static let maxReactions = 20

    /// The change `stanza` carries and the id of the message it changes, or nil for an ordinary message. `sender` is
    /// who sent it (the reactor, for reactions).
    public static func parse(_ stanza: Element, sender: JID) -> (targetID: String, change: MessageChange)? {
        if let replace = stanza.child("replace", namespace: correctionNamespace), let id = replace.attribute("id"),
           let body = stanza.child("body", namespace: stanza.namespace)?.text {
            return (id, .correction(body: body))
        }
        if let retract = stanza.child("retract", namespace: retractionNamespace), let id = retract.attribute("id") {
            return (id, .retraction)
        }
        if let reactions = stanza.child("reactions", namespace: reactionsNamespace), let id = reactions.attribute("id") {
            var emoji: [String] = []
            for reaction in reactions.children("reaction", namespace: reactionsNamespace) where !emoji.contains(reaction.text) {
                guard emoji.count < maxReactions, !reaction.text.isEmpty, reaction.text.count <= 16 else { continue }
                emoji.append(reaction.text)
            }
            return (id, .reactions(reactor: sender.bare, emoji))
        }
        return nil
    }
}

/// Whether a conversation is with one contact or in a room.
public enum ConversationKind: String, Sendable, Hashable, Codable {
    /// One-to-one messages with a contact.
    case chat
    /// The group chat of a multi-user chat room (XEP-0045) this user is in.
    case room
}

/// One conversation of the local archive, for a conversation list.
public struct Conversation: Sendable, Hashable {
    /// The other party: a contact's bare JID, or a room's.
    public var peer: JID
    /// Whether it is a one-to-one conversation or a room's.
    public var kind: ConversationKind
    /// The newest message.
    public var lastMessage: ArchivedMessage?
    /// Incoming messages newer than the last one the user has seen (displayed, on any of the account's clients). In a
    /// room, this user's own messages (reflected by the room) are never unread.
    ///
    /// History fetched from the server's archive (XEP-0313) — all of it on a fresh install — follows the same rule,
    /// with two kinds of read marks found in that history: a displayed marker the account sent (XEP-0333, archived
    /// with the `store` hint), and a message the account sent (from any of its clients): whoever answered has read
    /// what came before. So a fresh install shows as unread only what came after the account's last answer or
    /// displayed marker in each conversation; a conversation with neither stays all unread. Archive time stamps have
    /// a resolution of one second: a message in the same second as the read mark counts as read.
    public var unreadCount: Int
    /// The time of the newest message the user has seen, if any.
    public var readUpTo: Date?

    /// Creates a summary.
    public init(peer: JID, kind: ConversationKind = .chat, lastMessage: ArchivedMessage?, unreadCount: Int, readUpTo: Date?) {
        self.peer = peer
        self.kind = kind
        self.lastMessage = lastMessage
        self.unreadCount = unreadCount
        self.readUpTo = readUpTo
    }
}
