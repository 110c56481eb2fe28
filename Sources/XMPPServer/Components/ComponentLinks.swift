import NIOCore
import XMPPCore
import XMPPTransport

/// The external components (XEP-0114) that are connected now, by domain: where the kernel's stanzas for a component
/// domain go. A component connecting again replaces its previous connection.
final class ComponentLinks: Sendable {
    private let channels = Locked<[String: any Channel]>([:])

    /// Records `channel` as the connection of `domain`; returns the connection it replaces.
    func connect(_ domain: String, _ channel: any Channel) -> (any Channel)? {
        channels.withLock { $0.updateValue(channel, forKey: domain) }
    }

    /// Forgets `channel` if it is still the connection of `domain`.
    func disconnect(_ domain: String, _ channel: any Channel) {
        channels.withLock { channels in
            if channels[domain] === channel { channels[domain] = nil }
        }
    }

    /// Writes `stanza` to `domain`'s component; false when it is not connected. `lost` runs when the write fails
    /// after all (the connection closed meanwhile), so the sender can still be told.
    func send(_ stanza: Element, to domain: String, lost: @escaping @Sendable () -> Void) -> Bool {
        // A component that stopped reading is treated as away: what would pile up in its buffer bounces instead.
        guard let channel = channels.withLock({ $0[domain] }), channel.isActive, channel.isWritable else { return false }
        channel.writeAndFlush(XMPPOutbound.element(stanza.replacingNamespace(XMLNamespace.client, with: XMLNamespace.component)))
            .whenFailure { _ in lost() }
        return true
    }
}

extension Element {
    /// This element with every element in `old` (itself and its descendants) moved to `new`: a component stream's
    /// stanzas are in `jabber:component:accept`, the kernel's in `jabber:client`.
    func replacingNamespace(_ old: String, with new: String) -> Element {
        var copy = self
        if copy.namespace == old { copy.namespace = new }
        copy.children = children.map { node in
            if case .element(let child) = node { return .element(child.replacingNamespace(old, with: new)) }
            return node
        }
        return copy
    }
}
