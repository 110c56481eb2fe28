import XMPPCore

extension PubSubEvent {
    /// The `<event/>` this change is notified with (XEP-0060 §7.1.2.1, §7.2.2.1, §8.4.2, §8.5.2, §8.2.5).
    var eventPayload: Element {
        let namespace = PubSubNamespace.event
        let withPayload = node.configuration.deliverPayloads
        let child: Element
        switch kind {
        case .published(let items):
            var list = Element("items", namespace: namespace, attributes: ["node": node.name])
            for item in items { list.append(item.element(namespace: namespace, withPayload: withPayload)) }
            child = list
        case .lastItem(let item, _):
            child = Element("items", namespace: namespace, attributes: ["node": node.name])
                .appending(item.element(namespace: namespace, withPayload: withPayload))
        case .retracted(let ids):
            var list = Element("items", namespace: namespace, attributes: ["node": node.name])
            for id in ids { list.append(Element("retract", namespace: namespace, attributes: ["id": id])) }
            child = list
        case .purged: child = Element("purge", namespace: namespace, attributes: ["node": node.name])
        case .deleted: child = Element("delete", namespace: namespace, attributes: ["node": node.name])
        case .configured: child = Element("configuration", namespace: namespace, attributes: ["node": node.name])
        }
        return Element("event", namespace: namespace).appending(child)
    }

    /// The headline message carrying the event from `from` to `to`.
    func message(from: JID, to: JID) -> Element {
        Element("message", namespace: "jabber:client",
                attributes: ["from": from.description, "to": to.description, "type": "headline", "id": StanzaID.make()])
            .appending(eventPayload)
    }

    /// The one JID this event is for, when it is not for every subscriber (the last item for a new subscriber).
    var onlyFor: JID? {
        if case .lastItem(_, let subscriber) = kind { return subscriber }
        return nil
    }
}
