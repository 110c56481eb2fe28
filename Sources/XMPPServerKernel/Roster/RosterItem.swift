import XMPPCore

/// One contact in a user's roster (RFC 6121 §2.1.2), with the subscription state the server keeps for it.
public struct RosterItem: Sendable, Hashable, Codable {
    /// The subscription between the user and the contact (RFC 6121 §2.1.2.5).
    public enum Subscription: String, Sendable, Hashable, Codable, CaseIterable {
        /// Neither receives the other's presence.
        case none
        /// The user receives the contact's presence.
        case to
        /// The contact receives the user's presence.
        case from
        /// Both receive each other's presence.
        case both
    }

    /// The contact's bare JID.
    public var jid: JID
    /// The user's name for the contact.
    public var name: String?
    /// The groups the user files the contact under.
    public var groups: [String]
    /// The subscription state.
    public var subscription: Subscription
    /// The user asked to subscribe to the contact and no answer came yet ("pending out", `ask='subscribe'`).
    public var pendingOut: Bool
    /// The contact asked to subscribe to the user and no answer came yet ("pending in").
    public var pendingIn: Bool
    /// The user pre-approved a subscription request from the contact (RFC 6121 §3.4).
    public var preApproved: Bool
    /// Whether the user's roster shows the item. A contact that is only the source of a pending inbound
    /// request is recorded but not listed until the user adds it (RFC 6121 §3.1.3).
    public var isListed: Bool

    /// Creates an item.
    public init(jid: JID, name: String? = nil, groups: [String] = [], subscription: Subscription = .none,
                pendingOut: Bool = false, pendingIn: Bool = false, preApproved: Bool = false, isListed: Bool = true) {
        self.jid = jid
        self.name = name
        self.groups = groups
        self.subscription = subscription
        self.pendingOut = pendingOut
        self.pendingIn = pendingIn
        self.preApproved = preApproved
        self.isListed = isListed
    }

    /// Whether the contact receives the user's presence.
    public var contactReceivesPresence: Bool { subscription == .from || subscription == .both }

    /// Whether the user receives the contact's presence.
    public var userReceivesPresence: Bool { subscription == .to || subscription == .both }

    /// The `<item/>` for roster results and pushes (RFC 6121 §2.1.2).
    public var element: Element {
        var item = Element("item", namespace: RosterNamespace.roster)
        item.setAttribute("jid", to: jid.description)
        item.setAttribute("name", to: name)
        item.setAttribute("subscription", to: subscription.rawValue)
        if pendingOut { item.setAttribute("ask", to: "subscribe") }
        if preApproved { item.setAttribute("approved", to: "true") }
        for group in groups { item.append(Element("group", namespace: RosterNamespace.roster, text: group)) }
        return item
    }

    /// The `<item subscription='remove'/>` pushed when an item is deleted.
    public static func removalElement(for jid: JID) -> Element {
        Element("item", namespace: RosterNamespace.roster, attributes: ["jid": jid.description, "subscription": "remove"])
    }
}

/// Namespaces of the roster protocol.
public enum RosterNamespace {
    /// `jabber:iq:roster` (RFC 6121 §2).
    public static let roster = "jabber:iq:roster"
    /// The stream feature for roster versioning (XEP-0237).
    public static let versioning = "urn:xmpp:features:rosterver"
    /// The stream feature for subscription pre-approval (RFC 6121 §3.4).
    public static let preApproval = "urn:xmpp:features:pre-approval"
}
