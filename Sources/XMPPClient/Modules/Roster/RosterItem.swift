import Synchronization
import XMPPCore

/// One contact on the roster (RFC 6121 §2.1.2).
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
    }

    /// The contact's bare JID.
    public var jid: JID
    /// The name the user gave the contact.
    public var name: String?
    /// The groups the contact is in.
    public var groups: [String]
    /// The subscription state.
    public var subscription: Subscription
    /// Whether the user has asked to see the contact's presence and is waiting (`ask='subscribe'`).
    public var isPendingOut: Bool
    /// Whether the user pre-approved the contact's subscription (RFC 6121 §3.4).
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

    /// Reads an `<item/>`; `nil` for a malformed one. `subscription='remove'` reads as `nil` too: see
    /// ``RosterModule``.
    init?(element: Element) {
        guard let raw = element.attribute("jid"), let jid = JID(validating: raw),
              let subscription = Subscription(rawValue: element.attribute("subscription") ?? "none") else { return nil }
        self.init(jid: jid.bare, name: element.attribute("name").flatMap { $0.isEmpty ? nil : $0 },
                  groups: element.children("group", namespace: element.namespace).map(\.text).filter { !$0.isEmpty },
                  subscription: subscription, isPendingOut: element.attribute("ask") == "subscribe",
                  isApproved: element.attribute("approved") == "true")
    }

    /// The `<item/>` a client sends to add or update the contact: JID, name and groups only.
    var setElement: Element {
        var item = Element("item", namespace: RosterModule.namespace, attributes: ["jid": jid.description])
        item.setAttribute("name", to: name)
        for group in groups { item.append(Element("group", namespace: RosterModule.namespace, text: group)) }
        return item
    }
}

/// Where a roster is kept between sessions, with its version (XEP-0237), so a login only receives changes.
public protocol RosterStorage: Sendable {
    /// The stored version and items, or `nil` when nothing is stored for `account`.
    func load(account: JID) -> (version: String, items: [RosterItem])?
    /// Replaces everything stored for `account`.
    func save(account: JID, version: String?, items: [RosterItem])
}

/// A roster kept in memory for the process's lifetime.
public final class InMemoryRosterStorage: RosterStorage {
    private let rosters = Mutex<[JID: (version: String?, items: [RosterItem])]>([:])

    /// Creates an empty storage.
    public init() {}

    public func load(account: JID) -> (version: String, items: [RosterItem])? {
        rosters.withLock { rosters in
            guard let stored = rosters[account.bare], let version = stored.version else { return nil }
            return (version, stored.items)
        }
    }

    public func save(account: JID, version: String?, items: [RosterItem]) {
        rosters.withLock { $0[account.bare] = (version, items) }
    }
}
