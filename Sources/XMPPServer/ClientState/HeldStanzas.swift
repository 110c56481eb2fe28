import XMPPCore

/// What an inactive session holds back (XEP-0352): the latest presence of each sender and the latest chat state of
/// each conversation, in the order they first came. Anything else is important and flushes them first.
struct HeldStanzas: Sendable {
    private var order: [String] = []
    private var latest: [String: Element] = [:]
    /// The most held at once.
    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Holds `element` if it can wait (replacing an older one of the same kind from the same sender); `false` when
    /// it is important, or holding it would pass the limit.
    mutating func hold(_ element: Element) -> Bool {
        guard let key = Self.key(for: element) else { return false }
        if latest[key] == nil {
            guard order.count < limit else { return false }
            order.append(key)
        }
        latest[key] = element
        return true
    }

    /// Everything held, in order, leaving nothing.
    mutating func drain() -> [Element] {
        defer { order.removeAll(); latest.removeAll() }
        return order.compactMap { latest[$0] }
    }

    /// Where a stanza that can wait is kept; `nil` for an important one.
    static func key(for element: Element) -> String? {
        let from = element.attribute("from") ?? ""
        switch element.name {
        case "presence":
            switch element.attribute("type") {
            case nil, "unavailable": return "p " + from
            default: return nil  // subscriptions, probes, errors
            }
        case "message":
            guard element.attribute("type") != "error", !element.elements.contains(where: { !isChatStateOnly($0) }) else { return nil }
            return "c " + (JID(validating: from)?.bare.description ?? from)
        default:
            return nil
        }
    }

    /// Children a message that is only a chat state may have: the state and a thread.
    private static func isChatStateOnly(_ child: Element) -> Bool {
        child.namespace == "http://jabber.org/protocol/chatstates" || child.name == "thread"
    }
}
