/// A forwarded stanza (XEP-0297), as carbons and archive results carry one: the original stanza, with when it
/// was first sent.
public struct Forwarded: Sendable, Hashable {
    /// `urn:xmpp:forward:0`.
    public static let namespace = "urn:xmpp:forward:0"

    /// The original stanza.
    public var stanza: Element
    /// When it was first sent, if known.
    public var delay: Delay?

    /// Wraps `stanza`.
    public init(stanza: Element, delay: Delay? = nil) {
        self.stanza = stanza
        self.delay = delay
    }

    /// Reads a `<forwarded/>` element; `nil` without exactly one stanza inside.
    public init?(element: Element) {
        guard element.name == "forwarded", element.namespace == Self.namespace else { return nil }
        let stanzas = element.elements.filter { ["message", "presence", "iq"].contains($0.name) }
        guard stanzas.count == 1, let stanza = stanzas.first else { return nil }
        self.init(stanza: stanza, delay: element.child("delay", namespace: Delay.namespace).flatMap(Delay.init(element:)))
    }

    /// The `<forwarded/>` element.
    public var element: Element {
        var element = Element("forwarded", namespace: Self.namespace)
        if let delay { element.append(delay.element) }
        element.append(stanza)
        return element
    }
}
