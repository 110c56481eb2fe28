import Foundation
import XMPPCore

// What owners do: configure, delete, purge, manage subscriptions and affiliations (XEP-0060 §8).
extension PubSubNodes {
    func configurationForm(_ action: Element, for requester: Requester) throws(StanzaError) -> PubSubOutcome {
        let node = try existingNode(action)
        try requireOwner(node, requester)
        return PubSubOutcome(reply: Element("pubsub", namespace: PubSubNamespace.owner).appending(
            Element("configure", namespace: PubSubNamespace.owner, attributes: ["node": node.name]).appending(node.configuration.form().element)))
    }

    mutating func configure(_ action: Element, by requester: Requester) throws(StanzaError) -> PubSubOutcome {
        var node = try existingNode(action)
        try requireOwner(node, requester)
        if let form = action.child("x", namespace: DataForm.namespace).flatMap(DataForm.init(element:)), form.type == .cancel {
            return PubSubOutcome()
        }
        node.configuration = try configuration(from: action, base: node.configuration)
        // Fewer items allowed now: the oldest go.
        let keep = node.configuration.persistItems ? min(node.configuration.maxItems ?? limits.maxItems, limits.maxItems) : 1
        if node.items.count > keep { node.items.removeFirst(node.items.count - keep) }
        nodes[node.name] = node
        var outcome = PubSubOutcome()
        outcome.changed.insert(node.name)
        if node.configuration.notifyConfig { outcome.events.append(PubSubEvent(node: node, kind: .configured)) }
        return outcome
    }

    mutating func delete(_ action: Element, by requester: Requester) throws(StanzaError) -> PubSubOutcome {
        let node = try existingNode(action)
        try requireOwner(node, requester)
        nodes[node.name] = nil
        var outcome = PubSubOutcome()
        outcome.deleted.insert(node.name)
        if node.configuration.notifyDelete { outcome.events.append(PubSubEvent(node: node, kind: .deleted)) }
        return outcome
    }

    mutating func purge(_ action: Element, by requester: Requester) throws(StanzaError) -> PubSubOutcome {
        var node = try existingNode(action)
        try requireOwner(node, requester)
        node.items = []
        nodes[node.name] = node
        var outcome = PubSubOutcome()
        outcome.changed.insert(node.name)
        if node.configuration.notifyRetract { outcome.events.append(PubSubEvent(node: node, kind: .purged)) }
        return outcome
    }

    mutating func ownerSubscriptions(_ action: Element, isSet: Bool, by requester: Requester) throws(StanzaError) -> PubSubOutcome {
        var node = try existingNode(action)
        try requireOwner(node, requester)
        guard isSet else {
            var list = Element("subscriptions", namespace: PubSubNamespace.owner, attributes: ["node": node.name])
            for subscription in node.subscriptions {
                list.append(subscriptionElement(subscription, node: nil, namespace: PubSubNamespace.owner))
            }
            return PubSubOutcome(reply: Element("pubsub", namespace: PubSubNamespace.owner).appending(list))
        }
        for change in action.children("subscription") {
            guard let jid = change.attribute("jid").flatMap(JID.init(validating:)) else { throw PubSubError.invalidJID }
            switch change.attribute("subscription") {
            case "none":
                node.subscriptions.removeAll { $0.jid == jid.description }
            case "subscribed":
                if !node.subscriptions.contains(where: { $0.jid == jid.description }) {
                    guard node.subscriptions.count < limits.maxSubscriptions else { throw StanzaError(.resourceConstraint) }
                    node.subscriptions.append(PubSubSubscription(jid: jid.description, id: change.attribute("subid") ?? UUID().uuidString.lowercased()))
                }
            default:
                throw StanzaError(.notAcceptable, text: "subscription must be none or subscribed")
            }
        }
        nodes[node.name] = node
        var outcome = PubSubOutcome()
        outcome.changed.insert(node.name)
        return outcome
    }

    mutating func ownerAffiliations(_ action: Element, isSet: Bool, by requester: Requester) throws(StanzaError) -> PubSubOutcome {
        var node = try existingNode(action)
        try requireOwner(node, requester)
        guard isSet else {
            var list = Element("affiliations", namespace: PubSubNamespace.owner, attributes: ["node": node.name])
            for (jid, affiliation) in node.affiliations.sorted(by: { $0.key < $1.key }) {
                list.append(Element("affiliation", namespace: PubSubNamespace.owner, attributes: ["jid": jid, "affiliation": affiliation.rawValue]))
            }
            return PubSubOutcome(reply: Element("pubsub", namespace: PubSubNamespace.owner).appending(list))
        }
        var changed = node.affiliations
        for change in action.children("affiliation") {
            guard let jid = change.attribute("jid").flatMap(JID.init(validating:)) else { throw PubSubError.invalidJID }
            guard let affiliation = change.attribute("affiliation").flatMap(PubSubAffiliation.init(rawValue:)) else {
                throw StanzaError(.notAcceptable, text: "unknown affiliation")
            }
            changed[jid.bare.description] = affiliation == .none ? nil : affiliation
        }
        // A node keeps an owner; in PEP the account stays its owner.
        guard changed.values.contains(.owner) else { throw StanzaError(.notAcceptable, text: "a node needs an owner") }
        if isPersonal, let account = node.quotaOwner, changed[account] != .owner {
            throw StanzaError(.notAcceptable, text: "the account owns its PEP nodes")
        }
        node.affiliations = changed
        if changed.count > limits.maxSubscriptions { throw StanzaError(.resourceConstraint) }
        // Outcasts lose their subscriptions.
        let outcasts = Set(changed.filter { $0.value == .outcast }.keys)
        node.subscriptions.removeAll { JID(validating: $0.jid).map { outcasts.contains($0.bare.description) } ?? false }
        nodes[node.name] = node
        var outcome = PubSubOutcome()
        outcome.changed.insert(node.name)
        return outcome
    }
}
