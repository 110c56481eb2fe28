import Foundation
import XMPPCore
import XMPPServerKernel

/// One chat room's state and rules (XEP-0045), as a plain value: each input (a presence, message or IQ from a
/// user) is a method that changes the room and returns the stanzas to send. ``MUCService`` owns the rooms, feeds
/// them under a lock and does the delivery and the storage; nothing here touches sessions or stores.
public struct Room: Sendable {
    /// The room's bare JID (`room@conference.example.com`).
    public let jid: JID
    /// The owner's settings.
    public var configuration: RoomConfiguration
    /// Affiliations by bare JID; `none` is never stored.
    public internal(set) var affiliations: [JID: MUCAffiliation]
    /// The current subject and who set it.
    public internal(set) var subject: Subject?
    /// Whether the room was just created and waits for its owner to configure it (XEP-0045 §10.1.1).
    public internal(set) var isLocked: Bool
    /// Limits set by the service.
    public let limits: MUCLimits
    /// The occupants by nickname.
    var occupants: [String: Occupant] = [:]
    /// The nickname of each occupant's session, by real full JID.
    var nicknames: [JID: String] = [:]
    /// Recent groupchat messages, oldest first.
    var history: [HistoryEntry] = []
    /// IQ requests passed on to an occupant and not answered yet, by the id the room gave them.
    var forwardedIQs: [String: ForwardedIQ] = [:]
    /// The ids of `forwardedIQs`, oldest first, so the oldest is dropped when there are too many.
    var forwardedIQOrder: [String] = []

    /// A subject line (XEP-0045 §8.1).
    public struct Subject: Sendable, Codable, Hashable {
        /// The subject text.
        public var text: String
        /// The nickname of whoever set it, if an occupant did.
        public var nickname: String?

        /// Creates a subject.
        public init(text: String, nickname: String?) {
            self.text = text
            self.nickname = nickname
        }
    }

    /// A user in the room under one nickname, possibly from several sessions of the same account.
    struct Occupant: Sendable {
        var nickname: String
        var account: JID
        var sessions: [JID]
        var role: MUCRole
        /// The occupant's last presence, without addressing and without MUC payloads.
        var presence: Element
        /// A voice request from it went to the moderators; further ones are not passed on.
        var askedForVoice = false
    }

    /// A message kept for newcomers.
    /// Outstanding invitations: invitee → who invited them (not stored; declines are relayed only for these).
    var pendingInvitations: [JID: Set<JID>] = [:]
    /// The order invitations came in, to forget the oldest first.
    var invitationOrder: [JID] = []

    struct HistoryEntry: Sendable {
        var message: Element
        var date: Date
        var characters: Int
    }

    /// Creates a room; `owner` makes it a new, locked room with that owner.
    public init(jid: JID, configuration: RoomConfiguration, affiliations: [JID: MUCAffiliation] = [:],
                subject: Subject? = nil, owner: JID? = nil, limits: MUCLimits) {
        self.jid = jid
        self.configuration = configuration
        self.affiliations = affiliations
        self.subject = subject
        self.limits = limits
        isLocked = owner != nil
        if let owner { self.affiliations[owner.bare] = .owner }
    }

    /// How many occupants are in the room.
    public var occupantCount: Int { occupants.count }

    /// The accounts with at least one session in the room.
    var accountsInside: Set<JID> { Set(occupants.values.lazy.map(\.account)) }

    /// Whether the room has no occupants and need not be kept.
    public var isDisposable: Bool { occupants.isEmpty && (!configuration.isPersistent || isLocked) }

    /// The affiliation of an account.
    public func affiliation(of account: JID) -> MUCAffiliation {
        affiliations[account.bare] ?? .none
    }

    /// The role an occupant with `affiliation` starts with.
    func defaultRole(for affiliation: MUCAffiliation) -> MUCRole {
        switch affiliation {
        case .owner, .admin: .moderator
        case .member: .participant
        case .none: configuration.isModerated ? .visitor : .participant
        case .outcast: .none
        }
    }

    func occupantJID(_ nickname: String) -> JID {
        (try? jid.withResource(nickname)) ?? jid
    }

    /// The occupant a real full JID is in the room as.
    func occupant(of session: JID) -> Occupant? {
        nicknames[session].flatMap { occupants[$0] }
    }

    /// Whether `recipient` may see real JIDs (XEP-0045 §4.2 semi-anonymous and non-anonymous rooms).
    func seesRealJIDs(_ recipient: Occupant) -> Bool {
        configuration.realJIDsVisibleToAnyone || recipient.role == .moderator
    }

    // MARK: Stored part

    /// What outlives a restart: configuration, affiliations and subject.
    public var stored: StoredRoom {
        StoredRoom(jid: jid.description, configuration: configuration,
                   affiliations: Dictionary(uniqueKeysWithValues: affiliations.map { ($0.key.description, $0.value) }),
                   subject: subject)
    }

    /// Restores a persistent room.
    public init?(stored: StoredRoom, limits: MUCLimits) {
        guard let jid = JID(validating: stored.jid) else { return nil }
        var affiliations: [JID: MUCAffiliation] = [:]
        for (account, affiliation) in stored.affiliations {
            if let account = JID(validating: account) { affiliations[account] = affiliation }
        }
        self.init(jid: jid, configuration: stored.configuration, affiliations: affiliations, subject: stored.subject, limits: limits)
    }
}

/// What the service allows every room.
public struct MUCLimits: Sendable, Hashable {
    /// The most history messages a room may keep.
    public var maxHistoryLength: Int
    /// The most occupants any room may hold.
    public var maxOccupants: Int
    /// The most rooms one account may be in at once (with all its sessions), so nobody can fill the
    /// server's memory with rooms.
    public var maxRoomsPerUser: Int
    /// The most bytes of history a room keeps (persistent rooms keep it while empty too).
    public var maxHistoryBytes: Int
    /// The most persistent rooms an account may own and still create another room, make one persistent, or be
    /// made the owner of one.
    public var maxOwnedRooms: Int
    /// The most persistent rooms the service keeps; making one more persistent gets resource-constraint.
    public var maxPersistentRooms: Int
    /// The most affiliations (members, admins, owners, outcasts) one room may record.
    public var maxAffiliations: Int
    /// Whether rooms keep their messages in an archive their occupants and members can query (XEP-0313).
    public var archivesMessages = true
    /// Not a limit but carried with them to every room: the key occupant ids (XEP-0421) are derived with, from the
    /// server's secret, so they stay the same across restarts.
    public var occupantIDSecret: [UInt8] = []

    /// Creates limits.
    public init(maxHistoryLength: Int = 100, maxOccupants: Int = 1000, maxRoomsPerUser: Int = 100,
                maxHistoryBytes: Int = 262_144, maxOwnedRooms: Int = 10, maxAffiliations: Int = 1000,
                maxPersistentRooms: Int = 10_000) {
        self.maxHistoryLength = maxHistoryLength
        self.maxOccupants = maxOccupants
        self.maxRoomsPerUser = maxRoomsPerUser
        self.maxHistoryBytes = maxHistoryBytes
        self.maxOwnedRooms = maxOwnedRooms
        self.maxAffiliations = maxAffiliations
        self.maxPersistentRooms = maxPersistentRooms
    }
}

/// The stanzas an input produced and what the service must do about the room.
public struct RoomEffects: Sendable {
    /// Stanzas to deliver, each with its recipient (its `to`).
    public var stanzas: [(element: Element, to: JID)] = []
    /// The stored part (configuration, affiliations, subject) changed.
    public var storedStateChanged = false
    /// The room was destroyed by its owner.
    public var destroyed = false
    /// Messages to keep in the room's archive, in the room's order.
    public var archive: [ArchivedStanza] = []

    mutating func send(_ element: Element, to recipient: JID) {
        var element = element
        element.setAttribute("to", to: recipient.description)
        stanzas.append((element, recipient))
    }

    /// Answers `element` (from `sender`) with a stanza error coming from `from`.
    mutating func fail(_ element: Element, _ error: StanzaError, from: JID, to sender: JID) {
        guard element.attribute("type") != "error", !(element.name == "iq" && element.attribute("type") == "result") else { return }
        var reply = Element(element.name, namespace: element.namespace)
        reply.setAttribute("from", to: from.description)
        reply.setAttribute("id", to: element.attribute("id"))
        reply.setAttribute("type", to: "error")
        if element.name == "presence" {
            reply.append(Element("x", namespace: MUCNamespace.muc))
        } else {
            for child in element.elements where child.name != "error" { reply.append(child) }
        }
        reply.append(error.element(namespace: element.namespace))
        send(reply, to: sender)
    }
}
