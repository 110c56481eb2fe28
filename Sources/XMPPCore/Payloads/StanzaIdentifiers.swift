/// Unique and stable stanza IDs (XEP-0359): `<stanza-id/>`, assigned by an entity that stores or routes the
/// stanza (a room, an archive), and `<origin-id/>`, assigned by the sender.
public struct StanzaIdentifier: Sendable, Hashable {
    /// `urn:xmpp:sid:0`.
    public static let namespace = "urn:xmpp:sid:0"

    /// The identifier.
    public var id: String
    /// Who assigned it (for `<stanza-id/>`); `nil` for an origin id.
    public var by: JID?

    /// A stanza id assigned by `by`, or an origin id when `by` is `nil`.
    public init(id: String, by: JID? = nil) {
        self.id = id
        self.by = by
    }

    /// The `<stanza-id/>` (with `by`) or `<origin-id/>` element.
    public var element: Element {
        guard let by else { return Element("origin-id", namespace: Self.namespace, attributes: ["id": id]) }
        return Element("stanza-id", namespace: Self.namespace, attributes: ["id": id, "by": by.description])
    }

    /// The stanza id `by` assigned in `stanza`; only ids from the entity the reader trusts count (XEP-0359 §4).
    public static func stanzaID(in stanza: Element, by: JID) -> StanzaIdentifier? {
        for child in stanza.children("stanza-id", namespace: namespace) {
            guard let id = child.attribute("id"), let assigner = child.attribute("by").flatMap(JID.init(validating:)),
                  assigner == by else { continue }
            return StanzaIdentifier(id: id, by: assigner)
        }
        return nil
    }

    /// The sender's origin id in `stanza`, if any.
    public static func originID(in stanza: Element) -> StanzaIdentifier? {
        stanza.child("origin-id", namespace: namespace)?.attribute("id").map { StanzaIdentifier(id: $0) }
    }
}
