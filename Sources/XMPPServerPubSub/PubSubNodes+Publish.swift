import Foundation
import XMPPCore

// Creating nodes, publishing and retracting items (XEP-0060 §7.1, §7.2, §8.1; XEP-0163 §3 auto-create).
extension PubSubNodes {
    mutating func create(_ action: Element, configure: Element?, by requester: Requester) throws(StanzaError) -> PubSubOutcome {
        guard isPersonal ? requester.isOwnerAccount : requester.mayCreateNodes else {
            throw StanzaError(.forbidden, text: "you may not create nodes here")
        }
        let requested = action.attribute("node").flatMap { $0.isEmpty ? nil : $0 }
        if isPersonal && requested == nil { throw PubSubError.nodeIDRequired }
        let name = requested ?? UUID().uuidString.lowercased()
        guard nodes[name] == nil else { throw StanzaError(.conflict, text: "the node exists") }
        let node = try newNode(name, configuration: try configuration(from: configure, base: defaults), owner: requester)
        nodes[name] = node
        var outcome = PubSubOutcome(reply: requested == nil
            ? Element("pubsub", namespace: PubSubNamespace.pubsub).appending(Element("create", namespace: PubSubNamespace.pubsub, attributes: ["node": name]))
            : nil)
        outcome.changed.insert(name)
        return outcome
    }

    mutating func publish(_ action: Element, options: Element?, by requester: Requester, now: Date) throws(StanzaError) -> PubSubOutcome {
        guard let name = action.attribute("node"), !name.isEmpty else { throw PubSubError.nodeIDRequired }
        let itemElements = action.children("item")
        guard itemElements.count <= 1 else { throw PubSubError.invalidPayload }
        var outcome = PubSubOutcome()
        var node: PubSubNode
        if let existing = nodes[name] {
            node = existing
            if let options, let form = options.child("x", namespace: DataForm.namespace).flatMap(DataForm.init(element:)),
               !node.configuration.meets(form, maxItemsLimit: limits.maxItems) {
                throw PubSubError.preconditionNotMet
            }
        } else {
            // Auto-create (XEP-0060 §7.1.4; always in PEP), with the publish options as the configuration.
            guard isPersonal ? requester.isOwnerAccount : requester.mayCreateNodes else { throw PubSubError.nodeNotFound }
            node = try newNode(name, configuration: try configuration(from: options, base: defaults), owner: requester)
        }
        try checkMayPublish(node, requester)
        guard let itemElement = itemElements.first else {
            // Without an item only a transient notification-only node is publishable (XEP-0060 §7.1.3.6).
            throw node.configuration.persistItems || node.configuration.deliverPayloads ? PubSubError.itemRequired : PubSubError.invalidPayload
        }
        let payloads = Array(itemElement.elements)
        guard payloads.count <= 1 else { throw PubSubError.invalidPayload }
        if payloads.isEmpty && (node.configuration.persistItems || node.configuration.deliverPayloads) { throw PubSubError.payloadRequired }
        let payload = payloads.first?.xmlString
        if let payload, payload.utf8.count > limits.maxItemBytes { throw PubSubError.payloadTooBig(limits.maxItemBytes) }
        let id = itemElement.attribute("id").flatMap { $0.isEmpty ? nil : $0 } ?? UUID().uuidString.lowercased()
        guard id.utf8.count <= Self.maxNameBytes else { throw StanzaError(.notAcceptable, text: "item ids are at most \(Self.maxNameBytes) bytes") }
        let item = PubSubItem(id: id, payload: payload, publisher: requester.bare, published: now)
        node.store(item, limit: limits.maxItems)
        try checkOwnerQuota(with: node)
        nodes[name] = node
        outcome.changed.insert(name)
        outcome.events.append(PubSubEvent(node: node, kind: .published([item])))
        outcome.reply = Element("pubsub", namespace: PubSubNamespace.pubsub).appending(
            Element("publish", namespace: PubSubNamespace.pubsub, attributes: ["node": name]).appending(
                Element("item", namespace: PubSubNamespace.pubsub, attributes: ["id": id])))
        return outcome
    }

    mutating func retract(_ action: Element, by requester: Requester) throws(StanzaError) -> PubSubOutcome {
        var node = try existingNode(action)
        let ids = action.children("item").compactMap { $0.attribute("id") }
        guard !ids.isEmpty else { throw PubSubError.itemRequired }
        let affiliation = node.affiliation(of: requester.bare)
        for id in ids {
            guard let item = node.items.first(where: { $0.id == id }) else { throw StanzaError(.itemNotFound, text: "no item \(id)") }
            let ownsItem = affiliation == .publishOnly && item.publisher == requester.bare
            guard requester.isOwnerAccount || affiliation == .owner || affiliation == .publisher || ownsItem else { throw PubSubError.forbidden }
        }
        node.items.removeAll { ids.contains($0.id) }
        nodes[node.name] = node
        var outcome = PubSubOutcome()
        outcome.changed.insert(node.name)
        let notify = action.attribute("notify").map { $0 == "true" || $0 == "1" } ?? node.configuration.notifyRetract
        if notify { outcome.events.append(PubSubEvent(node: node, kind: .retracted(ids))) }
        return outcome
    }

    /// Throws `resource-constraint` when `changed` would take its owner past ``PubSubLimits/maxOwnerBytes`` (all the
    /// nodes of a PEP account, or on the service all the nodes one account created), or the service past
    /// ``PubSubLimits/maxTotalBytes``.
    func checkOwnerQuota(with changed: PubSubNode) throws(StanzaError) {
        let owner = changed.quotaOwner
        let others = nodes.values.filter { $0.name != changed.name }
        let ownerTotal = others.filter { isPersonal || $0.quotaOwner == owner }.reduce(changed.payloadBytes) { $0 + $1.payloadBytes }
        guard ownerTotal <= limits.maxOwnerBytes else {
            throw StanzaError(.resourceConstraint, text: "the items of this owner's nodes may take at most \(limits.maxOwnerBytes) bytes")
        }
        if limits.maxTotalBytes != .max {
            let total = others.reduce(changed.payloadBytes) { $0 + $1.payloadBytes }
            guard total <= limits.maxTotalBytes else { throw StanzaError(.resourceConstraint, text: "the service is full") }
        }
    }

    /// Throws unless the requester may publish to the node under its publish model.
    private func checkMayPublish(_ node: PubSubNode, _ requester: Requester) throws(StanzaError) {
        let affiliation = node.affiliation(of: requester.bare)
        if requester.isOwnerAccount || affiliation.mayPublish { return }
        switch node.configuration.publishModel {
        case .publishers: throw PubSubError.forbidden
        case .subscribers: guard node.isSubscribed(requester.jid) else { throw PubSubError.forbidden }
        case .open: try checkAccess(node, requester)
        }
    }
}
