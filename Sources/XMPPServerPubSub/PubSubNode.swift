import Foundation
import XMPPCore

/// A leaf node: its configuration, items (oldest first), affiliations by bare JID and subscriptions.
public struct PubSubNode: Sendable, Codable, Hashable {
    /// The node's name (its id).
    public var name: String
    /// The configuration.
    public var configuration: NodeConfiguration
    /// The items, oldest first.
    public var items: [PubSubItem] = []
    /// Affiliations other than `none`, by bare JID.
    public var affiliations: [String: PubSubAffiliation] = [:]
    /// Subscriptions, in the order they were made.
    public var subscriptions: [PubSubSubscription] = []
    /// The bare JID that created the node: whose quotas it counts against, whatever the affiliations become.
    public var creator: String?

    /// The affiliation of a bare JID.
    public func affiliation(of bare: String) -> PubSubAffiliation {
        affiliations[bare] ?? .none
    }

    /// The owners' bare JIDs, sorted.
    public var owners: [String] {
        affiliations.filter { $0.value == .owner }.keys.sorted()
    }

    /// The bytes the items take, as stored (payloads and ids).
    public var payloadBytes: Int {
        items.reduce(0) { $0 + ($1.payload?.utf8.count ?? 0) + $1.id.utf8.count }
    }

    /// Whose quotas the node counts against: its creator (older records: its first owner).
    var quotaOwner: String? { creator ?? owners.first }

    /// The most recent item.
    public var lastItem: PubSubItem? { items.last }

    /// Adds or replaces an item (a replaced one becomes the newest), then drops the oldest beyond the
    /// configured count (`max`: `limit`), or all but the last when items are not persisted.
    mutating func store(_ item: PubSubItem, limit: Int) {
        items.removeAll { $0.id == item.id }
        items.append(item)
        let keep = configuration.persistItems ? min(configuration.maxItems ?? limit, limit) : 1
        if items.count > keep { items.removeFirst(items.count - keep) }
    }

    /// Whether `jid` (full or bare) holds a subscription, directly or through its bare JID.
    func isSubscribed(_ jid: JID) -> Bool {
        let full = jid.description, bare = jid.bare.description
        return subscriptions.contains { $0.jid == full || $0.jid == bare }
    }

    /// Throws unless `requester` may subscribe and read items under the access model (XEP-0060 §6.1.3, §6.5.9).
    public func checkAccess(_ requester: Requester) throws(StanzaError) {
        let affiliation = affiliation(of: requester.bare)
        if requester.isOwnerAccount || affiliation == .owner { return }
        if affiliation == .outcast { throw PubSubError.forbidden }
        switch configuration.accessModel {
        case .open: return
        case .presence:
            guard requester.isPresenceSubscriber || affiliation.isWhitelisted else { throw PubSubError.presenceSubscriptionRequired }
        case .roster:
            let allowed = Set(configuration.rosterGroupsAllowed)
            let inAllowedGroup = requester.rosterGroups.map { !allowed.isDisjoint(with: $0) } ?? false
            guard affiliation.isWhitelisted || inAllowedGroup else { throw PubSubError.notInRosterGroup }
        case .whitelist:
            guard affiliation.isWhitelisted else { throw PubSubError.closedNode }
        }
    }

    /// Whether `requester` may read the node.
    public func allows(_ requester: Requester) -> Bool {
        (try? checkAccess(requester)) != nil
    }
}
