/// The namespaces of multi-user chat (XEP-0045) and the extensions rooms use.
public enum MUCNamespace {
    /// `http://jabber.org/protocol/muc`: joining (`<x/>` with password and history).
    public static let muc = "http://jabber.org/protocol/muc"
    /// `http://jabber.org/protocol/muc#user`: occupant items, status codes, invitations, destruction notices.
    public static let user = "http://jabber.org/protocol/muc#user"
    /// `http://jabber.org/protocol/muc#admin`: roles and affiliations.
    public static let admin = "http://jabber.org/protocol/muc#admin"
    /// `http://jabber.org/protocol/muc#owner`: configuration and destruction.
    public static let owner = "http://jabber.org/protocol/muc#owner"
    /// The FORM_TYPE of the room configuration form.
    public static let roomConfig = "http://jabber.org/protocol/muc#roomconfig"
    /// The FORM_TYPE of voice requests and their approval (XEP-0045 §7.13).
    public static let request = "http://jabber.org/protocol/muc#request"
    /// The FORM_TYPE of the extended room information in disco#info.
    public static let roomInfo = "http://jabber.org/protocol/muc#roominfo"
    /// Direct invitations (XEP-0249).
    public static let directInvitation = "jabber:x:conference"
}

/// A user's long-lived standing in a room (XEP-0045 §5.2), from lowest to highest.
public enum MUCAffiliation: String, Sendable, Codable, CaseIterable, Comparable {
    /// Banned.
    case outcast
    /// No affiliation.
    case none
    /// A member (may enter a members-only room).
    case member
    /// An administrator.
    case admin
    /// An owner.
    case owner

    private var rank: Int { Self.allCases.firstIndex(of: self)! }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }
}

/// An occupant's role for the current visit (XEP-0045 §5.1), from lowest to highest.
public enum MUCRole: String, Sendable, Codable, CaseIterable, Comparable {
    /// Not in the room.
    case none
    /// Present, without voice in a moderated room.
    case visitor
    /// Present with voice.
    case participant
    /// Present, and may kick and grant voice.
    case moderator

    private var rank: Int { Self.allCases.firstIndex(of: self)! }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }
}

/// The status codes a room uses (XEP-0045 §15.6.2).
public enum MUCStatus: Int, Sendable {
    /// Any occupant may see the user's real JID.
    case realJIDsPublic = 100
    /// This presence is about the recipient.
    case selfPresence = 110
    /// Configuration changed (not privacy-related).
    case configurationChanged = 104
    /// The room is logged.
    case logged = 170
    /// The room is now non-anonymous.
    case nowNonAnonymous = 172
    /// The room is now semi-anonymous.
    case nowSemiAnonymous = 173
    /// A new room was created.
    case created = 201
    /// The service changed the user's nickname.
    case nicknameModified = 210
    /// Banned.
    case banned = 301
    /// Nickname changed.
    case nicknameChanged = 303
    /// Kicked.
    case kicked = 307
    /// Removed because of an affiliation change.
    case removedByAffiliation = 321
    /// Removed because the room became members-only.
    case removedMembersOnly = 322
    /// Removed because the service is shutting down.
    case shutdown = 332
    /// Removed because of a technical problem: its client answered a stanza of the room with an error.
    case technicalProblem = 333
}

extension MUCStatus {
    /// `<status code='…'/>` in the muc#user namespace, as rooms put it in presence and messages.
    public var element: Element {
        Element("status", namespace: MUCNamespace.user, attributes: ["code": String(rawValue)])
    }
}
