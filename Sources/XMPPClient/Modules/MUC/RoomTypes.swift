import Foundation
import XMPPCore

/// A user's long-lived standing in a room (XEP-0045 §5.2): XMPPCore's ``MUCAffiliation``, shared with the server.
public typealias RoomAffiliation = MUCAffiliation

/// An occupant's role for the current visit (XEP-0045 §5.1): XMPPCore's ``MUCRole``, shared with the server.
public typealias RoomRole = MUCRole

/// Someone in a room, as its presence describes them.
public struct RoomOccupant: Sendable, Hashable {
    /// The nickname (the resource of the occupant's room JID).
    public var nickname: String
    /// The occupant's real JID, when the room lets this user see it.
    public var realJID: JID?
    /// The affiliation.
    public var affiliation: RoomAffiliation
    /// The role.
    public var role: RoomRole
    /// Availability (`away`, `dnd`, ...), `nil` when simply available.
    public var show: Presence.Show?
    /// The status text.
    public var status: String?
    /// Whether this is the user of this client.
    public var isSelf: Bool
}

/// Why an occupant (or this user) is no longer in the room.
public enum RoomExit: Sendable, Hashable {
    /// Left on their own.
    case left
    /// Took another nickname (the occupant is back under it).
    case nicknameChanged(to: String)
    /// Kicked by a moderator (status 307).
    case kicked(by: String?, reason: String?)
    /// Banned (status 301).
    case banned(by: String?, reason: String?)
    /// Removed by an affiliation change or because the room became members-only (321, 322).
    case removed(reason: String?)
    /// The room removed this user for a technical reason (status 333, XEP-0045 §7.14, XEP-0410): a message from the
    /// room bounced, so the room took this user for gone (servers add 307 for clients that know only kicks).
    /// ``MultiUserChatModule`` enters the room again at once, as this client is still there; ``RoomEvent/rejoined``
    /// or ``RoomEvent/rejoinFailed(_:)`` tells how it went.
    case technicalRemoval(reason: String?)
    /// The chat service is shutting down (status 332). ``MultiUserChatModule`` enters the room again once the
    /// client has reconnected, as after ``disconnected``.
    case serviceShutdown
    /// The owner destroyed the room, maybe pointing to another (XEP-0045 §10.9).
    case roomDestroyed(reason: String?, alternate: JID?)
    /// This client's connection ended.
    case disconnected
}

/// A message in a room: groupchat to everyone, or private from one occupant.
public struct RoomMessage: Sendable, Hashable {
    /// The sender's nickname, `nil` for messages from the room itself.
    public var nickname: String?
    /// The text.
    public var body: String
    /// The sender's id for the message.
    public var id: String?
    /// The room's unique and stable id for it (XEP-0359), for groupchat messages.
    public var stanzaID: String?
    /// When the room received it, for history (XEP-0203).
    public var date: Date?
    /// Whether it is discussion history sent on entry.
    public var isHistory: Bool
    /// The stanza as received.
    public var stanza: Element
}

/// Something that happened in a joined room.
public enum RoomEvent: Sendable, Hashable {
    /// Someone entered (this user included, with `isSelf`).
    case occupantJoined(RoomOccupant)
    /// Someone's presence, role or affiliation changed.
    case occupantChanged(RoomOccupant)
    /// Someone left, and why.
    case occupantLeft(RoomOccupant, RoomExit)
    /// A groupchat message (live or history).
    case message(RoomMessage)
    /// A private message from an occupant.
    case privateMessage(RoomMessage)
    /// An occupant corrected (XEP-0308) or retracted (XEP-0424) an earlier message, or reacted to one (XEP-0444):
    /// `from` is the occupant's room JID (the reactor, for reactions), `targetID` the id the change names (the
    /// sender's id for a correction, the room's stanza id for the others), `isOutgoing` whether it was this user.
    /// These are not ``message(_:)`` events.
    case messageChanged(MessageChangeEvent)
    /// The subject, sent on entry and whenever it changes; `nickname` is who set it.
    case subject(String, nickname: String?)
    /// The room's configuration changed (status codes 104, 172, 173).
    case configurationChanged(statusCodes: [Int])
    /// A visitor asked for voice (to moderators only); ``ChatRoom/grantVoice(to:reason:)`` gives it.
    case voiceRequested(nickname: String, jid: JID?)
    /// The room refused a message (visitor without voice, for instance).
    case messageRefused(StanzaError)
    /// This user is no longer in the room.
    case exited(RoomExit)
    /// The module entered the room again after a reconnection or a technical removal (re-creating it, with the default settings, when it
    /// had ended meanwhile: a temporary room after a server restart).
    case rejoined
    /// Entering the room again (after a reconnection or a technical removal) failed; the room stays left until ``ChatRoom/join(password:history:timeout:)``.
    case rejoinFailed(XMPPClientError)
}

/// How much discussion history to ask for on entry (XEP-0045 §7.2.14). With no limits, the room decides.
public struct RoomHistoryRequest: Sendable, Hashable {
    /// At most this many messages.
    public var maxStanzas: Int?
    /// At most this many characters of XML.
    public var maxCharacters: Int?
    /// Only messages of the last so many seconds.
    public var seconds: Int?
    /// Only messages since this date.
    public var since: Date?

    /// Creates a request.
    public init(maxStanzas: Int? = nil, maxCharacters: Int? = nil, seconds: Int? = nil, since: Date? = nil) {
        self.maxStanzas = maxStanzas
        self.maxCharacters = maxCharacters
        self.seconds = seconds
        self.since = since
    }

    /// No history at all.
    public static let none = RoomHistoryRequest(maxStanzas: 0)
    /// Whatever the room sends by default.
    public static let roomDefault = RoomHistoryRequest()

    var element: Element? {
        guard maxStanzas != nil || maxCharacters != nil || seconds != nil || since != nil else { return nil }
        var history = Element("history", namespace: MUCNamespace.muc)
        history.setAttribute("maxstanzas", to: maxStanzas.map(String.init))
        history.setAttribute("maxchars", to: maxCharacters.map(String.init))
        history.setAttribute("seconds", to: seconds.map(String.init))
        history.setAttribute("since", to: since?.formatted(.iso8601))
        return history
    }
}

/// An invitation to a room: mediated by the room (XEP-0045 §7.8.2) or sent directly (XEP-0249).
public struct RoomInvitation: Sendable, Hashable {
    /// The room.
    public var room: JID
    /// Who invites.
    public var inviter: JID?
    /// Why.
    public var reason: String?
    /// The room's password, if the invitation carries it.
    public var password: String?
    /// Whether the inviter sent it directly (XEP-0249) rather than through the room.
    public var isDirect: Bool
}

/// A room a service lists (disco#items).
public struct RoomListing: Sendable, Hashable {
    /// The room's JID.
    public var jid: JID
    /// Its name.
    public var name: String?
}

/// An entry of an affiliation or role list (XEP-0045 §9, §10).
public struct RoomListEntry: Sendable, Hashable {
    /// The bare JID, when known.
    public var jid: JID?
    /// The nickname, for occupants.
    public var nickname: String?
    /// The affiliation.
    public var affiliation: RoomAffiliation?
    /// The role.
    public var role: RoomRole?
}
