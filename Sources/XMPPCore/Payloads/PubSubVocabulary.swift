/// The namespaces of publish-subscribe (XEP-0060) and personal eventing (XEP-0163).
public enum PubSubNamespace {
    /// `http://jabber.org/protocol/pubsub`: publish, retract, items, subscribe, create, configure by entities.
    public static let pubsub = "http://jabber.org/protocol/pubsub"
    /// `http://jabber.org/protocol/pubsub#owner`: configure, delete, purge, subscriptions and affiliations by owners.
    public static let owner = "http://jabber.org/protocol/pubsub#owner"
    /// `http://jabber.org/protocol/pubsub#event`: notifications in messages.
    public static let event = "http://jabber.org/protocol/pubsub#event"
    /// `http://jabber.org/protocol/pubsub#errors`: the application-specific error conditions.
    public static let errors = "http://jabber.org/protocol/pubsub#errors"
    /// The FORM_TYPE of node configuration forms.
    public static let nodeConfig = "http://jabber.org/protocol/pubsub#node_config"
    /// The FORM_TYPE of publish options (XEP-0060 §7.1.5).
    public static let publishOptions = "http://jabber.org/protocol/pubsub#publish-options"
    /// The FORM_TYPE of disco#info metadata of a node.
    public static let metaData = "http://jabber.org/protocol/pubsub#meta-data"

    /// A pubsub feature (`http://jabber.org/protocol/pubsub#publish`, ...) as disco lists it.
    public static func feature(_ name: String) -> String { "\(pubsub)#\(name)" }

    /// The caps feature by which a client asks for notifications of `node` (XEP-0163 §4.3.1).
    public static func notifyFeature(_ node: String) -> String { node + "+notify" }
}

/// Well-known PEP nodes.
public enum PEPNode {
    /// XEP-0084 avatar data: items hold base64 image bytes, the item id is their SHA-1.
    public static let avatarData = "urn:xmpp:avatar:data"
    /// XEP-0084 avatar metadata: the id, type, size and dimensions of the current avatar.
    public static let avatarMetadata = "urn:xmpp:avatar:metadata"
    /// XEP-0402 bookmarks: one item per room, its id the room's JID.
    public static let bookmarks = "urn:xmpp:bookmarks:1"
    /// XEP-0048 bookmarks kept in PEP (one `storage:bookmarks` item).
    public static let legacyBookmarks = "storage:bookmarks"
    /// XEP-0172 user nickname.
    public static let nickname = "http://jabber.org/protocol/nick"
}
