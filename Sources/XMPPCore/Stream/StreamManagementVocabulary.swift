/// The elements of stream management (XEP-0198, `urn:xmpp:sm:3`), for both ends of a stream.
public enum StreamManagementVocabulary {
    /// `urn:xmpp:sm:3`.
    public static let namespace = "urn:xmpp:sm:3"

    /// The `<sm/>` stream feature.
    public static var feature: Element { Element("sm", namespace: namespace) }

    /// `<r/>`: asks the peer how many stanzas it has handled.
    public static var request: Element { Element("r", namespace: namespace) }

    /// `<a h='…'/>`: says how many stanzas this end has handled.
    public static func answer(_ handled: UInt32) -> Element {
        Element("a", namespace: namespace, attributes: ["h": String(handled)])
    }

    /// `<failed/>` with a stanza error condition, and the handled count when known (§5).
    public static func failed(_ condition: StanzaError.Condition, handled: UInt32? = nil) -> Element {
        var failed = Element("failed", namespace: namespace,
                             children: [.element(Element(condition.rawValue, namespace: XMLNamespace.stanzaErrors))])
        failed.setAttribute("h", to: handled.map(String.init))
        return failed
    }

    /// The `h` attribute of `<a/>`, `<resume/>`, `<resumed/>` or `<failed/>`: a count modulo 2^32; `nil` when
    /// missing or not a number.
    public static func handledCount(in element: Element) -> UInt32? {
        element.attribute("h").flatMap { UInt32($0) }
    }
}
