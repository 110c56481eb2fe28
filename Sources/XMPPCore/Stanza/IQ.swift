/// An `<iq/>` stanza (RFC 6120 §8.2.3): a request (`get`, `set`) answered by exactly one `result` or `error`.
///
/// ```swift
/// let request = IQ(type: .get, to: server, payload: Element("ping", namespace: "urn:xmpp:ping"))
/// // ... later, for the reply:
/// let reply = request.result()             // <iq type='result' id='...'/>
/// ```
public struct IQ: Stanza {
    /// The iq types of RFC 6120 §8.2.3.
    public enum IQType: String, Sendable, Hashable, CaseIterable {
        case get, set, result, error

        /// Whether this type is a request that must be answered.
        public var isRequest: Bool { self == .get || self == .set }
    }

    public var element: Element

    public init?(element: Element) {
        guard element.name == "iq" else { return nil }
        self.element = element
    }

    /// Creates an iq with a fresh id (unless one is given) and an optional payload.
    public init(type: IQType, to: JID? = nil, from: JID? = nil, id: String = StanzaID.make(), payload: Element? = nil,
                namespace: String = XMLNamespace.client) {
        element = Element("iq", namespace: namespace, attributes: ["type": type.rawValue, "id": id])
        self.to = to
        self.from = from
        if let payload { element.append(payload) }
    }

    /// The type, or `nil` when missing or unknown (which makes the stanza invalid: RFC 6120 §8.2.3).
    public var type: IQType? {
        get { element.attribute("type").flatMap(IQType.init(rawValue:)) }
        set { element.setAttribute("type", to: newValue?.rawValue) }
    }

    /// The first child element, which for `get` and `set` is the request's payload. Skips an `<error/>`.
    public var payload: Element? {
        element.elements.first { !($0.name == "error" && $0.namespace == element.namespace) }
    }

    /// Whether this iq is structurally valid: a known type, an id, and for requests exactly one payload
    /// child (RFC 6120 §8.2.3).
    public var isValid: Bool {
        guard let type, element.attribute("id") != nil else { return false }
        if type.isRequest { return element.elements.reduce(0) { count, _ in count + 1 } == 1 }
        return true
    }

    /// A `result` reply: addresses swapped, same id, with an optional payload.
    public func result(payload: Element? = nil) -> IQ {
        var reply = IQ(type: .result, id: id ?? "", payload: payload, namespace: element.namespace)
        reply.element.setAttribute("to", to: element.attribute("from"))
        reply.element.setAttribute("from", to: element.attribute("to"))
        return reply
    }
}
