import XMPPCore

/// One contact in a user's roster as the server keeps it: the protocol's ``RosterItem`` (shared with clients,
/// in XMPPCore) plus the state only the server tracks (RFC 6121 §3): a pending inbound request, and whether the
/// user's roster lists the contact at all.
public struct RosterEntry: Sendable, Hashable {
    /// What clients see of the contact.
    public var item: RosterItem
    /// The contact asked to subscribe to the user and no answer came yet ("pending in").
    public var pendingIn: Bool
    /// What the contact said with its pending request (its `<status/>` and XEP-0172 nickname), kept so the request
    /// reaches the user whole when it is delivered later, at the user's next initial presence (RFC 6121 §3.1.3).
    public var pendingRequest: SubscriptionRequestNote?
    /// Whether the user's roster shows the item. A contact that is only the source of a pending inbound
    /// request is recorded but not listed until the user adds it (RFC 6121 §3.1.3).
    public var isListed: Bool

    /// Creates an entry.
    public init(jid: JID, name: String? = nil, groups: [String] = [], subscription: RosterItem.Subscription = .none,
                pendingOut: Bool = false, pendingIn: Bool = false, preApproved: Bool = false, isListed: Bool = true) {
        self.item = RosterItem(jid: jid, name: name, groups: groups, subscription: subscription,
                               isPendingOut: pendingOut, isApproved: preApproved)
        self.pendingIn = pendingIn
        self.isListed = isListed
    }

    /// The contact's bare JID.
    public var jid: JID {
        get { item.jid }
        set { item.jid = newValue }
    }
    /// The user's name for the contact.
    public var name: String? {
        get { item.name }
        set { item.name = newValue }
    }
    /// The groups the user files the contact under.
    public var groups: [String] {
        get { item.groups }
        set { item.groups = newValue }
    }
    /// The subscription state.
    public var subscription: RosterItem.Subscription {
        get { item.subscription }
        set { item.subscription = newValue }
    }
    /// The user asked to subscribe to the contact and no answer came yet ("pending out", `ask='subscribe'`).
    public var pendingOut: Bool {
        get { item.isPendingOut }
        set { item.isPendingOut = newValue }
    }
    /// The user pre-approved a subscription request from the contact (RFC 6121 §3.4).
    public var preApproved: Bool {
        get { item.isApproved }
        set { item.isApproved = newValue }
    }

    /// Whether the contact receives the user's presence.
    public var contactReceivesPresence: Bool { subscription.contactReceivesPresence }
    /// Whether the user receives the contact's presence.
    public var userReceivesPresence: Bool { subscription.userReceivesPresence }
    /// The `<item/>` for roster results and pushes (RFC 6121 §2.1.2).
    public var element: Element { item.element }
}

// Stored as one flat JSON object (the SQLite backend's format since v1), so existing rosters read unchanged.
extension RosterEntry: Codable {
    private enum CodingKeys: String, CodingKey {
        case jid, name, groups, subscription, pendingOut, pendingIn, preApproved, isListed, pendingStatus, pendingNick
    }

    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        self.init(jid: try values.decode(JID.self, forKey: .jid), name: try values.decodeIfPresent(String.self, forKey: .name),
                  groups: try values.decode([String].self, forKey: .groups),
                  subscription: try values.decode(RosterItem.Subscription.self, forKey: .subscription),
                  pendingOut: try values.decode(Bool.self, forKey: .pendingOut), pendingIn: try values.decode(Bool.self, forKey: .pendingIn),
                  preApproved: try values.decode(Bool.self, forKey: .preApproved), isListed: try values.decode(Bool.self, forKey: .isListed))
        let status = try values.decodeIfPresent(String.self, forKey: .pendingStatus)
        let nick = try values.decodeIfPresent(String.self, forKey: .pendingNick)
        if status != nil || nick != nil { pendingRequest = SubscriptionRequestNote(status: status, nick: nick) }
    }

    public func encode(to encoder: any Encoder) throws {
        var values = encoder.container(keyedBy: CodingKeys.self)
        try values.encode(jid, forKey: .jid)
        try values.encodeIfPresent(name, forKey: .name)
        try values.encode(groups, forKey: .groups)
        try values.encode(subscription, forKey: .subscription)
        try values.encode(pendingOut, forKey: .pendingOut)
        try values.encode(pendingIn, forKey: .pendingIn)
        try values.encode(preApproved, forKey: .preApproved)
        try values.encode(isListed, forKey: .isListed)
        try values.encodeIfPresent(pendingRequest?.status, forKey: .pendingStatus)
        try values.encodeIfPresent(pendingRequest?.nick, forKey: .pendingNick)
    }
}
