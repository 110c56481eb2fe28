/// Namespaces of the roster protocol (RFC 6121 §2).
public enum RosterNamespace {
    /// `jabber:iq:roster`.
    public static let roster = "jabber:iq:roster"
    /// The stream feature for roster versioning (XEP-0237).
    public static let versioning = "urn:xmpp:features:rosterver"
    /// The stream feature for subscription pre-approval (RFC 6121 §3.4).
    public static let preApproval = "urn:xmpp:features:pre-approval"
}

/// One contact of a roster as the protocol carries it (RFC 6121 §2.1.2): in roster results and pushes (all fields)
/// and in a client's roster set (JID, name and groups only).
public struct RosterItem: Sendable, Hashable, Codable {
    /// The presence subscription between the user and the contact (RFC 6121 §2.1.2.5).
    public enum Subscription: String, Sendable, Hashable, Codable, CaseIterable {
        /// Neither sees the other's presence.
        case none
        /// The user sees the contact's presence.
        case to
        /// The contact sees the user's presence.
        case from
        /// Both see each other's presence.
        case both

        /// Whether the user receives the contact's presence.
        public var userReceivesPresence: Bool { self == .to || self == .both }
        /// Whether the contact receives the user's presence.
        public var contactReceivesPresence: Bool { self == .from || self == .both }
    }

    /// The contact's bare JID.
    public var jid: JID
    /// The name the user gave the contact.
    public var name: String?
    /// The groups the contact is filed under.
    public var groups: [String]
    /// The subscription state.
    public var subscription: Subscription
    /// The user asked to see the contact's presence and is waiting (`ask='subscribe'`).
    public var isPendingOut: Bool
    /// The user pre-approved the contact's subscription (`approved='true'`, RFC 6121 §3.4).
    public var isApproved: Bool

    /// Creates an item.
    public init(jid: JID, name: String? = nil, groups: [String] = [], subscription: Subscription = .none,
                isPendingOut: Bool = false, isApproved: Bool = false) {
        self.jid = jid
        self.name = name
        self.groups = groups
        self.subscription = subscription
        self.isPendingOut = isPendingOut
        self.isApproved = isApproved
    }

    /// Reads an `<item/>`; `nil` for a malformed one, and for `subscription='remove'` (see ``isRemoval(_:)``).
    public init?(element: Element) {
        guard let raw = element.attribute("jid"), let jid = JID(validating: raw),
              let subscription = Subscription(rawValue: element.attribute("subscription") ?? "none") else { return nil }
        self.init(jid: jid.bare, name: element.attribute("name").flatMap { $0.isEmpty ? nil : $0 },
                  groups: element.children("group", namespace: element.namespace).map(\.text).filter { !$0.isEmpty },
                  subscription: subscription, isPendingOut: element.attribute("ask") == "subscribe",
                  isApproved: element.attribute("approved") == "true")
    }

    /// Whether an `<item/>` announces the contact's removal.
    public static func isRemoval(_ element: Element) -> Bool { element.attribute("subscription") == "remove" }

    /// The `<item/>` of roster results and pushes.
    public var element: Element {
        var item = setElement
        item.setAttribute("subscription", to: subscription.rawValue)
        if isPendingOut { item.setAttribute("ask", to: "subscribe") }
        if isApproved { item.setAttribute("approved", to: "true") }
        return item
    }

    /// The `<item/>` a client sends to add or update the contact: JID, name and groups only (RFC 6121 §2.3.2).
    public var setElement: Element {
        var item = Element("item", namespace: RosterNamespace.roster, attributes: ["jid": jid.description])
        item.setAttribute("name", to: name)
        for group in groups { item.append(Element("group", namespace: RosterNamespace.roster, text: group)) }
        return item
    }

    /// The `<item subscription='remove'/>` of a removal push.
    public static func removalElement(for jid: JID) -> Element {
        Element("item", namespace: RosterNamespace.roster, attributes: ["jid": jid.description, "subscription": "remove"])
    }
}
