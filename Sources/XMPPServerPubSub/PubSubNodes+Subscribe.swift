import Foundation
import XMPPCore

// Subscribing, unsubscribing and retrieving items and one's own subscriptions and affiliations (XEP-0060 §6).
extension PubSubNodes {
    mutating func subscribe(_ action: Element, by requester: Requester) throws(StanzaError) -> PubSubOutcome {
        var node = try existingNode(action)
        guard let raw = action.attribute("jid"), let jid = JID(validating: raw) else { throw PubSubError.invalidJID }
        // One subscribes oneself (any of one's resources, or the bare JID); the owner may subscribe others.
        guard jid.bare == requester.jid.bare || node.affiliation(of: requester.bare) == .owner else { throw PubSubError.invalidJID }
        try checkAccess(node, requester)
        let subscription: PubSubSubscription
        if let existing = node.subscriptions.first(where: { $0.jid == jid.description }) {
            subscription = existing
        } else {
            guard node.subscriptions.count < limits.maxSubscriptions else {
                throw StanzaError(.resourceConstraint, text: "the node has as many subscribers as it may")
            }
            let ofAccount = node.subscriptions.count { JID(validating: $0.jid)?.bare == jid.bare }
            guard ofAccount < Self.maxSubscriptionsPerAccount else {
                throw StanzaError(.resourceConstraint, text: "at most \(Self.maxSubscriptionsPerAccount) subscriptions per account and node")
            }
            subscription = PubSubSubscription(jid: jid.description, id: UUID().uuidString.lowercased())
            node.subscriptions.append(subscription)
            nodes[node.name] = node
        }
        var outcome = PubSubOutcome(reply: Element("pubsub", namespace: PubSubNamespace.pubsub).appending(
            subscriptionElement(subscription, node: node.name, namespace: PubSubNamespace.pubsub)))
        outcome.changed.insert(node.name)
        if node.configuration.sendLastPublishedItem != .never, let last = node.lastItem {
            outcome.events.append(PubSubEvent(node: node, kind: .lastItem(last, subscriber: jid)))
        }
        return outcome
    }

    mutating func unsubscribe(_ action: Element, by requester: Requester) throws(StanzaError) -> PubSubOutcome {
        var node = try existingNode(action)
        guard let raw = action.attribute("jid"), let jid = JID(validating: raw) else { throw PubSubError.invalidJID }
        guard jid.bare == requester.jid.bare || node.affiliation(of: requester.bare) == .owner else { throw PubSubError.forbidden }
        let subid = action.attribute("subid")
        let before = node.subscriptions.count
        node.subscriptions.removeAll { $0.jid == jid.description && (subid == nil || $0.id == subid) }
        guard node.subscriptions.count < before else { throw PubSubError.notSubscribed }
        nodes[node.name] = node
        var outcome = PubSubOutcome()
        outcome.changed.insert(node.name)
        return outcome
    }

    func items(_ action: Element, for requester: Requester) throws(StanzaError) -> PubSubOutcome {
        let node = try existingNode(action)
        try checkAccess(node, requester)
        if node.affiliation(of: requester.bare) == .publishOnly { throw PubSubError.forbidden }
        let wanted = action.children("item").compactMap { $0.attribute("id") }
        var selected = wanted.isEmpty ? node.items : node.items.filter { wanted.contains($0.id) }
        if let max = action.attribute("max_items").flatMap(Int.init), max >= 0, selected.count > max {
            selected = Array(selected.suffix(max))
        }
        var items = Element("items", namespace: PubSubNamespace.pubsub, attributes: ["node": node.name])
        for item in selected { items.append(item.element(namespace: PubSubNamespace.pubsub)) }
        return PubSubOutcome(reply: Element("pubsub", namespace: PubSubNamespace.pubsub).appending(items))
    }

    func subscriptions(of requester: Requester, node name: String?) -> PubSubOutcome {
        var list = Element("subscriptions", namespace: PubSubNamespace.pubsub)
        if let name { list.attributes.append(.init(name: "node", value: name)) }
        for node in nodes.values.sorted(by: { $0.name < $1.name }) where name == nil || node.name == name {
            for subscription in node.subscriptions where JID(validating: subscription.jid)?.bare == requester.jid.bare {
                list.append(subscriptionElement(subscription, node: node.name, namespace: PubSubNamespace.pubsub))
            }
        }
        return PubSubOutcome(reply: Element("pubsub", namespace: PubSubNamespace.pubsub).appending(list))
    }

    func affiliations(of requester: Requester, node name: String?) -> PubSubOutcome {
        var list = Element("affiliations", namespace: PubSubNamespace.pubsub)
        if let name { list.attributes.append(.init(name: "node", value: name)) }
        for node in nodes.values.sorted(by: { $0.name < $1.name }) where name == nil || node.name == name {
            let affiliation = requester.isOwnerAccount ? .owner : node.affiliation(of: requester.bare)
            guard affiliation != .none else { continue }
            list.append(Element("affiliation", namespace: PubSubNamespace.pubsub,
                                attributes: ["node": node.name, "affiliation": affiliation.rawValue]))
        }
        return PubSubOutcome(reply: Element("pubsub", namespace: PubSubNamespace.pubsub).appending(list))
    }

    func subscriptionElement(_ subscription: PubSubSubscription, node: String?, namespace: String) -> Element {
        var element = Element("subscription", namespace: namespace,
                              attributes: ["jid": subscription.jid, "subid": subscription.id, "subscription": "subscribed"])
        if let node { element.attributes.insert(.init(name: "node", value: node), at: 0) }
        return element
    }
}
