import XMPPCore

/// One item of a node (XEP-0060 §4.3): its id and its payload.
public struct PubSubItem: Sendable, Hashable {
    /// The item id; a service may leave it out of notifications of nodes that do not persist items.
    public var id: String?
    /// The payload, when the item carries one.
    public var payload: Element?
    /// Who published it, when the service says (`publisher`, XEP-0060 §7.1.2.1).
    public var publisher: JID?

    /// Creates an item.
    public init(id: String?, payload: Element?, publisher: JID? = nil) {
        self.id = id
        self.payload = payload
        self.publisher = publisher
    }

    /// Reads an `<item/>` of a result or of a notification.
    init(element: Element) {
        self.init(id: element.attribute("id"), payload: element.elements.first(where: { _ in true }),
                  publisher: element.attribute("publisher").flatMap(JID.init(validating:)))
    }
}

/// A subscription to a node (XEP-0060 §6.1).
public struct PubSubSubscription: Sendable, Hashable {
    /// The state of a subscription.
    public enum State: String, Sendable, Hashable, CaseIterable {
        /// Notifications are sent.
        case subscribed
        /// Waits for the node owner's approval.
        case pending
        /// Must be configured before it is active.
        case unconfigured
        /// No subscription (after an unsubscribe, or refused).
        case none
    }

    /// The node.
    public var node: String?
    /// The subscribed JID.
    public var jid: JID
    /// The state.
    public var state: State
    /// The subscription id, when the service gives one (needed to unsubscribe when a JID has several).
    public var subscriptionID: String?

    /// Creates a subscription.
    public init(node: String?, jid: JID, state: State, subscriptionID: String? = nil) {
        self.node = node
        self.jid = jid
        self.state = state
        self.subscriptionID = subscriptionID
    }

    /// Reads a `<subscription/>`; `node` applies when the element has none (it inherits its parent's).
    init?(element: Element, node: String? = nil) {
        guard let jid = element.attribute("jid").flatMap(JID.init(validating:)) else { return nil }
        self.init(node: element.attribute("node") ?? node, jid: jid,
                  state: element.attribute("subscription").flatMap(State.init(rawValue:)) ?? .subscribed,
                  subscriptionID: element.attribute("subid"))
    }
}

/// An affiliation with a node (XEP-0060 §4.1): what an entity may do there.
public struct PubSubAffiliation: Sendable, Hashable {
    /// The affiliations of XEP-0060 §4.1.
    public enum Role: String, Sendable, Hashable, CaseIterable {
        case owner, publisher, member, none, outcast
        case publishOnly = "publish-only"
    }

    /// The node; `nil` in a node owner's list, which is about one node.
    public var node: String?
    /// The entity; `nil` in the user's own list, which is about the user.
    public var jid: JID?
    /// The affiliation.
    public var role: Role

    /// Creates an affiliation.
    public init(node: String? = nil, jid: JID? = nil, role: Role) {
        self.node = node
        self.jid = jid
        self.role = role
    }

    /// Reads an `<affiliation/>`.
    init?(element: Element) {
        guard let role = element.attribute("affiliation").flatMap(Role.init(rawValue:)) else { return nil }
        self.init(node: element.attribute("node"), jid: element.attribute("jid").flatMap(JID.init(validating:)), role: role)
    }
}
