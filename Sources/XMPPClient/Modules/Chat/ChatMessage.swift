import Foundation
import XMPPCore

/// A one-to-one chat message, sent or received.
public struct ChatMessage: Sendable, Hashable {
    /// The sender's JID.
    public var from: JID
    /// The recipient's JID.
    public var to: JID
    /// The stanza id, which delivery receipts refer to.
    public var id: String?
    /// The text.
    public var body: String
    /// The conversation thread (RFC 6121 §5.2.5), if any.
    public var thread: String?
    /// Whether the sender asked for a delivery receipt (XEP-0184).
    public var requestsReceipt: Bool
    /// The chat state sent along, if any (XEP-0085).
    public var chatState: ChatState?
    /// The whole stanza, for payloads this type does not model.
    public var stanza: Message
    /// Whether this account sent it (from another of its clients: a carbon copy, XEP-0280, or the server's archive).
    public var isOutgoing = false
    /// Whether it reached this client as a carbon copy (XEP-0280) of what another of the account's clients sent or
    /// received.
    public var isCarbonCopy = false
    /// The id the account's server archive gave it (XEP-0359 `<stanza-id/>`), if the server archives.
    public var archiveID: String?
    /// When it was sent: the delay stamp of a message that waited (offline storage, XEP-0203), else when it arrived.
    public var timestamp = Date()
    /// Whether it waited on the server before arriving (it carries a delay stamp).
    public var isDelayed = false
    /// The id of the message it answers (XEP-0461), if any.
    public var replyTo: String?

    /// The URL of a file shared with out-of-band data (XEP-0066 `<x xmlns='jabber:x:oob'>`), as
    /// ``HTTPUploadModule/share(_:with:)`` and most clients send an uploaded file; `nil` for a plain message.
    public var outOfBandURL: URL? {
        let namespace = HTTPUploadModule.outOfBandNamespace
        guard let text = stanza.element.child("x", namespace: namespace)?.child("url", namespace: namespace)?.text else { return nil }
        return URL(string: text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// A correction, retraction or reactions someone sent for an earlier message (see ``MessageChange``).
public struct MessageChangeEvent: Sendable, Hashable {
    /// Who changed it (the reactor, or the message's sender; in a room, the occupant's room JID).
    public var from: JID
    /// The id of the message changed.
    public var targetID: String
    /// What changed.
    public var change: MessageChange
    /// Whether this account made the change (on another of its clients: a carbon copy; in a room, under this user's
    /// nickname).
    public var isOutgoing: Bool
}

/// A message this client sent came back as an error (RFC 6120 §8.3): the recipient does not exist, blocks the
/// account, or cannot be reached. It refers to the message by its id.
public struct DeliveryFailure: Sendable, Hashable {
    /// Whom the message was for.
    public var to: JID
    /// The failed message's id.
    public var messageID: String?
    /// Why.
    public var error: StanzaError
}

/// A participant's activity in a conversation (XEP-0085).
public enum ChatState: String, Sendable, Hashable, CaseIterable {
    /// Taking part in the conversation.
    case active
    /// Writing a message.
    case composing
    /// Stopped writing for a moment.
    case paused
    /// Not paying attention for a while.
    case inactive
    /// Closed the conversation.
    case gone

    /// The chat states namespace.
    public static let namespace = "http://jabber.org/protocol/chatstates"

    /// The chat state carried by a message, if any.
    init?(message: Element) {
        guard let element = message.child(namespace: Self.namespace), let state = ChatState(rawValue: element.name) else { return nil }
        self = state
    }
}

/// A participant's chat state changed.
public struct ChatStateUpdate: Sendable, Hashable {
    /// Who.
    public var from: JID
    /// The new state.
    public var state: ChatState
}

/// A delivery receipt (XEP-0184): the recipient's client received the message with this id.
public struct DeliveryReceipt: Sendable, Hashable {
    /// The recipient who confirms.
    public var from: JID
    /// The id of the message confirmed.
    public var messageID: String
}
