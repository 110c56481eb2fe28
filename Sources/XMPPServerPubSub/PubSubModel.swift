import Foundation
import XMPPCore

/// Who may subscribe to a node and retrieve its items (XEP-0060 §4.5).
public enum AccessModel: String, Sendable, Codable, CaseIterable {
    /// Anyone.
    case open
    /// Those subscribed to the owner's presence.
    case presence
    /// Those in the owner's roster, in one of the allowed groups.
    case roster
    /// Those the owner affiliated with the node (member, publisher, owner).
    case whitelist
}

/// Who may publish to a node (XEP-0060 §16.4.3, `pubsub#publish_model`).
public enum PublishModel: String, Sendable, Codable, CaseIterable {
    /// Owners and publishers.
    case publishers
    /// Subscribers too.
    case subscribers
    /// Anyone who may access the node.
    case open
}

/// When a new subscriber receives the last published item (`pubsub#send_last_published_item`).
public enum SendLastPublishedItem: String, Sendable, Codable, CaseIterable {
    /// Never.
    case never
    /// When subscribing.
    case onSubscription = "on_sub"
    /// When subscribing and when the subscriber becomes available (PEP's default).
    case onSubscriptionAndPresence = "on_sub_and_presence"
}

/// An entity's standing with a node (XEP-0060 §4.1), from most to least privileged.
public enum PubSubAffiliation: String, Sendable, Codable, CaseIterable {
    /// Configures, deletes, purges, publishes.
    case owner
    /// Publishes and retracts.
    case publisher
    /// Publishes; retracts only its own items; may not read.
    case publishOnly = "publish-only"
    /// Reads and subscribes (on a whitelist node).
    case member
    /// No standing.
    case none
    /// Banned: may neither subscribe nor read.
    case outcast

    /// Whether the affiliation may publish whatever the publish model says.
    var mayPublish: Bool { self == .owner || self == .publisher || self == .publishOnly }
    /// Whether it counts as on the whitelist.
    var isWhitelisted: Bool { self == .owner || self == .publisher || self == .member }
}

/// A subscription of a JID (full or bare) to a node.
public struct PubSubSubscription: Sendable, Codable, Hashable {
    /// The subscribed JID, as the subscriber gave it.
    public var jid: String
    /// The subscription's id.
    public var id: String
}

/// A published item: its id, its payload (serialized XML, or none), who published it and when.
public struct PubSubItem: Sendable, Codable, Hashable {
    /// The item's id, unique in its node.
    public var id: String
    /// The payload as XML, `nil` for a notification-only item.
    public var payload: String?
    /// The publisher's bare JID.
    public var publisher: String
    /// When it was published.
    public var published: Date

    /// The `<item/>` as retrieval and notifications carry it (in `namespace`), with its payload when `withPayload`.
    func element(namespace: String, withPayload: Bool = true) -> Element {
        var item = Element("item", namespace: namespace, attributes: ["id": id])
        if withPayload, let payload, let parsed = try? Element(xml: payload) { item.append(parsed) }
        return item
    }
}
