import XMPPCore

/// A notification from a pubsub service or a personal eventing service (XEP-0060 §7.1.2, §7.2.2, §8.4, §8.5):
/// what happened to which node, told in a `<message/>` carrying `<event xmlns='…pubsub#event'/>`.
public struct PubSubEvent: Sendable, Hashable {
    /// What happened.
    public enum Kind: Sendable, Hashable {
        /// Items were published (with their payloads when the node delivers them).
        case published([PubSubItem])
        /// Items were retracted; carries their ids.
        case retracted([String])
        /// Every item was removed.
        case purged
        /// The node was deleted; the service may name a node that replaces it.
        case deleted(redirect: String?)
        /// The node's configuration changed.
        case configured
    }

    /// The service that sent it: a pubsub component, or for PEP the bare JID of the account whose node it is.
    public var service: JID
    /// The node.
    public var node: String
    /// What happened.
    public var kind: Kind

    /// Creates an event.
    public init(service: JID, node: String, kind: Kind) {
        self.service = service
        self.node = node
        self.kind = kind
    }

    /// The events in a message, in order (one `<items/>` may both publish and retract); empty when it carries none.
    /// A message without `from` comes from the user's own account, `account`.
    public static func events(in message: Element, account: JID?) -> [PubSubEvent] {
        guard message.name == "message", message.attribute("type") != "error",
              let event = message.child("event", namespace: PubSubNamespace.event),
              let service = message.attribute("from").flatMap(JID.init(validating:)) ?? account?.bare else { return [] }
        var events: [PubSubEvent] = []
        for child in event.elements {
            guard let node = child.attribute("node") else { continue }
            switch child.name {
            case "items":
                let published = child.children("item", namespace: PubSubNamespace.event).map(PubSubItem.init(element:))
                let retracted = child.children("retract", namespace: PubSubNamespace.event).compactMap { $0.attribute("id") }
                if !published.isEmpty { events.append(PubSubEvent(service: service, node: node, kind: .published(published))) }
                if !retracted.isEmpty { events.append(PubSubEvent(service: service, node: node, kind: .retracted(retracted))) }
            case "purge":
                events.append(PubSubEvent(service: service, node: node, kind: .purged))
            case "delete":
                events.append(PubSubEvent(service: service, node: node, kind: .deleted(redirect: child.child("redirect")?.attribute("uri"))))
            case "configuration":
                events.append(PubSubEvent(service: service, node: node, kind: .configured))
            default:
                continue
            }
        }
        return events
    }
}
