/// The behaviour shared by the three stanza kinds (RFC 6120 §8): a typed view over an ``Element``.
///
/// A view never copies or re-encodes its element: reading a property reads the element's attribute or child,
/// and setting it edits the element. Build stanzas with the kinds' initializers, send ``element``.
public protocol Stanza: Sendable, Hashable {
    /// The element this view reads and writes.
    var element: Element { get set }
    /// Wraps an element of this kind; `nil` when the name does not match.
    init?(element: Element)
}

extension Stanza {
    /// The `to` address; `nil` when absent or not a valid JID (see ``toAttribute`` for the raw value).
    public var to: JID? {
        get { element.attribute("to").flatMap { JID(validating: $0) } }
        set { element.setAttribute("to", to: newValue?.description) }
    }

    /// The `from` address; `nil` when absent or not a valid JID.
    public var from: JID? {
        get { element.attribute("from").flatMap { JID(validating: $0) } }
        set { element.setAttribute("from", to: newValue?.description) }
    }

    /// The raw `to` attribute.
    public var toAttribute: String? { element.attribute("to") }

    /// The raw `from` attribute.
    public var fromAttribute: String? { element.attribute("from") }

    /// The `id` attribute.
    public var id: String? {
        get { element.attribute("id") }
        set { element.setAttribute("id", to: newValue) }
    }

    /// The `xml:lang` attribute.
    public var language: String? {
        get { element.language }
        set { element.language = newValue }
    }

    /// The stanza error carried by a stanza of type `error`.
    public var error: StanzaError? {
        guard element.attribute("type") == "error", let child = element.child("error", namespace: element.namespace) else { return nil }
        return StanzaError(element: child)
    }

    /// Replaces the child `name` (in the stanza's namespace) by one holding `value`, or removes it for `nil`.
    mutating func setChildText(_ name: String, _ value: String?) {
        element.removeChildren(name, namespace: element.namespace)
        if let value { element.append(Element(name, namespace: element.namespace, text: value)) }
    }

    /// The error reply to this stanza (RFC 6120 §8.3.1): addresses swapped, same id, type `error`, the error
    /// as the only child.
    public func errorReply(_ error: StanzaError) -> Element {
        element.errorReply(error, keepingPayload: false)
    }
}

extension Element {
    /// The error reply to this stanza (RFC 6120 §8.3.1): addresses swapped, same id, type `error`, and the error;
    /// with `keepingPayload`, the original children come first so the sender can tell which request failed
    /// (RFC 6120 allows it; servers do it for messages and IQs).
    public func errorReply(_ error: StanzaError, keepingPayload: Bool) -> Element {
        var reply = Element(name: name, namespace: namespace, attributes: [], children: [])
        reply.setAttribute("from", to: attribute("to"))
        reply.setAttribute("to", to: attribute("from"))
        reply.setAttribute("id", to: attribute("id"))
        reply.setAttribute("type", to: "error")
        if keepingPayload {
            for child in elements where !(child.name == "error" && child.namespace == namespace) { reply.append(child) }
        }
        reply.append(error.element(namespace: namespace))
        return reply
    }

    /// Whether this stanza may be answered with an error: never an error itself, nor an IQ result (RFC 6120 §8.3.1).
    public var mayBeAnsweredWithError: Bool {
        let type = attribute("type")
        return type != "error" && !(name == "iq" && type == "result")
    }
}

/// Makes the stanza ids this process sends: short, unique, unpredictable enough for matching replies.
public enum StanzaID {
    /// A fresh id, such as `a3f9c2e1b0d84e17`.
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

extension Element {
    /// Whether this is a stanza (`message`, `presence` or `iq`) rather than a nonza or stream-level element.
    public var isStanza: Bool {
        (name == "message" || name == "presence" || name == "iq") && (namespace == XMLNamespace.client || namespace == XMLNamespace.server)
    }
}
