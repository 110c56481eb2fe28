import Foundation
import XMPPCore

/// The nodes of one owner — the pubsub service, or one account's PEP — and the XEP-0060 rules that change them.
/// A plain value: each request is a method that checks, changes the nodes and says what to save and notify; the
/// caller does the storage and the delivery (see ``NodeStore`` and ``Notifier``).
public struct PubSubNodes: Sendable {
    /// The nodes, by name.
    public internal(set) var nodes: [String: PubSubNode]
    /// The configuration new nodes start from.
    let defaults: NodeConfiguration
    /// The bounds.
    let limits: PubSubLimits
    /// The longest node name or item id, in bytes.
    static let maxNameBytes = 1024
    /// Subscriptions one account (its bare JID and resources together) may hold on one node.
    static let maxSubscriptionsPerAccount = 8
    /// Whether this is a PEP service (auto-create on publish, only the account creates).
    let isPersonal: Bool

    /// Nodes loaded from storage (or none).
    public init(nodes: [String: PubSubNode] = [:], defaults: NodeConfiguration, limits: PubSubLimits, isPersonal: Bool) {
        self.nodes = nodes
        self.defaults = defaults
        self.limits = limits
        self.isPersonal = isPersonal
    }

    /// Handles a `<pubsub/>` or `<pubsub xmlns='…#owner'/>` request of type `get` (`isSet == false`) or `set`.
    public mutating func handle(_ payload: Element, isSet: Bool, from requester: Requester, now: Date = Date()) throws(StanzaError) -> PubSubOutcome {
        guard let action = payload.firstChildElement else { throw StanzaError(.badRequest, text: "the request names no action") }
        switch (payload.namespace, action.name, isSet) {
        case (PubSubNamespace.pubsub, "publish", true):
            return try publish(action, options: payload.child("publish-options"), by: requester, now: now)
        case (PubSubNamespace.pubsub, "retract", true): return try retract(action, by: requester)
        case (PubSubNamespace.pubsub, "create", true):
            return try create(action, configure: payload.child("configure"), by: requester)
        case (PubSubNamespace.pubsub, "subscribe", true): return try subscribe(action, by: requester)
        case (PubSubNamespace.pubsub, "unsubscribe", true): return try unsubscribe(action, by: requester)
        case (PubSubNamespace.pubsub, "items", false): return try items(action, for: requester)
        case (PubSubNamespace.pubsub, "subscriptions", false): return subscriptions(of: requester, node: action.attribute("node"))
        case (PubSubNamespace.pubsub, "affiliations", false): return affiliations(of: requester, node: action.attribute("node"))
        case (PubSubNamespace.pubsub, "options", _): throw PubSubError.unsupported("subscription-options")
        case (PubSubNamespace.owner, "configure", false): return try configurationForm(action, for: requester)
        case (PubSubNamespace.owner, "configure", true): return try configure(action, by: requester)
        case (PubSubNamespace.owner, "default", false):
            return PubSubOutcome(reply: Element("pubsub", namespace: PubSubNamespace.owner).appending(
                Element("default", namespace: PubSubNamespace.owner).appending(defaults.form().element)))
        case (PubSubNamespace.owner, "delete", true): return try delete(action, by: requester)
        case (PubSubNamespace.owner, "purge", true): return try purge(action, by: requester)
        case (PubSubNamespace.owner, "subscriptions", _): return try ownerSubscriptions(action, isSet: isSet, by: requester)
        case (PubSubNamespace.owner, "affiliations", _): return try ownerAffiliations(action, isSet: isSet, by: requester)
        case (PubSubNamespace.pubsub, "publish", false), (PubSubNamespace.pubsub, "retract", false), (PubSubNamespace.pubsub, "create", false),
             (PubSubNamespace.pubsub, "subscribe", false), (PubSubNamespace.pubsub, "unsubscribe", false),
             (PubSubNamespace.pubsub, "items", true), (PubSubNamespace.pubsub, "subscriptions", true),
             (PubSubNamespace.pubsub, "affiliations", true), (PubSubNamespace.owner, "default", true),
             (PubSubNamespace.owner, "delete", false), (PubSubNamespace.owner, "purge", false):
            throw StanzaError(.badRequest, text: "\(action.name) does not go with this iq type")
        default:
            throw StanzaError(.featureNotImplemented, text: "\(action.name) is not supported here")
        }
    }

    // MARK: - Shared checks

    /// The node named by `action`'s `node` attribute.
    func existingNode(_ action: Element) throws(StanzaError) -> PubSubNode {
        guard let name = action.attribute("node"), !name.isEmpty else { throw PubSubError.nodeIDRequired }
        guard let node = nodes[name] else { throw PubSubError.nodeNotFound }
        return node
    }

    /// Throws unless the requester owns the node (the PEP account always does).
    func requireOwner(_ node: PubSubNode, _ requester: Requester) throws(StanzaError) {
        guard requester.isOwnerAccount || node.affiliation(of: requester.bare) == .owner else { throw PubSubError.forbidden }
    }

    /// Throws unless the requester may subscribe to the node and read its items.
    func checkAccess(_ node: PubSubNode, _ requester: Requester) throws(StanzaError) {
        try node.checkAccess(requester)
    }

    /// A new node with the requester as owner, within the node limit.
    func newNode(_ name: String, configuration: NodeConfiguration, owner requester: Requester) throws(StanzaError) -> PubSubNode {
        guard nodes.count < limits.maxNodes else {
            throw StanzaError(.resourceConstraint, text: "at most \(limits.maxNodes) nodes")
        }
        guard isPersonal || nodes.values.count(where: { $0.quotaOwner == requester.bare }) < limits.maxNodesPerOwner else {
            throw StanzaError(.resourceConstraint, text: "at most \(limits.maxNodesPerOwner) nodes per account")
        }
        guard name.utf8.count <= Self.maxNameBytes else { throw StanzaError(.notAcceptable, text: "node names are at most \(Self.maxNameBytes) bytes") }
        return PubSubNode(name: name, configuration: configuration, affiliations: [requester.bare: .owner], creator: requester.bare)
    }

    /// The configuration a submitted `<x/>` form in `container` gives, starting from `base`.
    func configuration(from container: Element?, base: NodeConfiguration) throws(StanzaError) -> NodeConfiguration {
        guard let formElement = container?.child("x", namespace: DataForm.namespace) else { return base }
        guard let form = DataForm(element: formElement) else { throw StanzaError(.badRequest, text: "the form cannot be read") }
        if let type = form.formType, type != PubSubNamespace.nodeConfig, type != PubSubNamespace.publishOptions {
            throw StanzaError(.badRequest, text: "unexpected FORM_TYPE \(type)")
        }
        return try base.applying(form, maxItemsLimit: limits.maxItems)
    }
}
