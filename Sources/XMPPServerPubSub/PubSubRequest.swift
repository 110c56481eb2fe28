import XMPPCore

/// Who asks, and how they stand with the owner of the nodes (the PEP account, or a service node's owner): what
/// the access models need, gathered by the caller before the engine decides.
public struct Requester: Sendable {
    /// The requester's full JID.
    public var jid: JID
    /// Whether the requester is the account whose PEP this is (always `false` on the pubsub service).
    public var isOwnerAccount = false
    /// Whether the requester may create nodes.
    public var mayCreateNodes = false
    /// Whether the requester is subscribed to the owner's presence (presence access model).
    public var isPresenceSubscriber = false
    /// The requester's groups in the owner's roster, `nil` when not in it (roster access model).
    public var rosterGroups: [String]?

    /// The requester's bare JID as a string: the key of affiliations.
    var bare: String { jid.bare.description }

    /// Creates a requester.
    public init(jid: JID, isOwnerAccount: Bool = false, mayCreateNodes: Bool = false, isPresenceSubscriber: Bool = false,
                rosterGroups: [String]? = nil) {
        self.jid = jid
        self.isOwnerAccount = isOwnerAccount
        self.mayCreateNodes = mayCreateNodes
        self.isPresenceSubscriber = isPresenceSubscriber
        self.rosterGroups = rosterGroups
    }
}

/// What happened to a node, for notifications.
public enum PubSubEventKind: Sendable {
    /// Items were published.
    case published([PubSubItem])
    /// Items were retracted (by id).
    case retracted([String])
    /// Every item was removed.
    case purged
    /// The node was deleted.
    case deleted
    /// The configuration changed.
    case configured
    /// A new subscriber gets the last item (XEP-0060 §6.1.7): to `subscriber` only.
    case lastItem(PubSubItem, subscriber: JID)
}

/// A change to notify about, with the node as it is after the change (before it, for a deletion).
public struct PubSubEvent: Sendable {
    /// The node.
    public var node: PubSubNode
    /// The change.
    public var kind: PubSubEventKind
}

/// What the engine decided for a request: the reply's payload, the nodes to save or remove, the events to notify.
public struct PubSubOutcome: Sendable {
    /// The `<iq type='result'/>` child, or none.
    public var reply: Element?
    /// Nodes created or changed (to save).
    public var changed: Set<String> = []
    /// Nodes deleted (to remove from storage).
    public var deleted: Set<String> = []
    /// What to notify.
    public var events: [PubSubEvent] = []

    init(reply: Element? = nil) {
        self.reply = reply
    }
}

/// Bounds of a pubsub service or of one account's PEP.
public struct PubSubLimits: Sendable {
    /// Nodes one owner (a PEP account, or the whole service) may have.
    public var maxNodes: Int
    /// Items one node keeps at most (`max_items=max` means this many).
    public var maxItems: Int
    /// The largest item payload, in bytes of XML.
    public var maxItemBytes: Int
    /// Subscriptions one node may have.
    public var maxSubscriptions: Int
    /// Bytes of item payloads one owner keeps in all its nodes: a PEP account's, or on the service the nodes of one
    /// first owner (their creator), whoever published to them.
    public var maxOwnerBytes: Int
    /// Nodes one account may create on the service (a PEP account is bounded by ``maxNodes``).
    public var maxNodesPerOwner: Int
    /// Bytes of items the whole service keeps (`.max` for PEP, bounded per account instead).
    public var maxTotalBytes: Int

    /// Creates limits.
    public init(maxNodes: Int, maxItems: Int, maxItemBytes: Int, maxSubscriptions: Int, maxOwnerBytes: Int, maxNodesPerOwner: Int? = nil,
                maxTotalBytes: Int = .max) {
        self.maxNodes = maxNodes
        self.maxTotalBytes = maxTotalBytes
        self.maxNodesPerOwner = maxNodesPerOwner ?? maxNodes
        self.maxItems = maxItems
        self.maxItemBytes = maxItemBytes
        self.maxSubscriptions = maxSubscriptions
        self.maxOwnerBytes = maxOwnerBytes
    }
}
